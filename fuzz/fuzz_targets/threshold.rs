//! The threshold parser: any expression parses or gives an error whose caret is inside it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(expr) = std::str::from_utf8(data) else {
        return;
    };
    match loadgate::threshold::parse(expr) {
        Ok(t) => {
            // Whatever parsed is a limit a run can measure, and it renders.
            assert!(t.limit.is_finite());
            let _ = loadgate::report::format::limit(t.op, t.limit, t.unit);
        }
        Err(err) => {
            assert!(err.offset <= expr.len(), "offset {} of {}", err.offset, expr.len());
            let _ = loadgate::threshold::render_error(expr, &err);
        }
    }
});
