//! The README's AWS setup, read as a user follows it: the role it creates must let the example
//! workflows log in. AssumeRoleWithWebIdentity refuses a `DurationSeconds` above the role's
//! maximum session duration (1 to 12 hours; 1 hour unless set) — AWS STS API Reference,
//! AssumeRoleWithWebIdentity, DurationSeconds.

use std::path::Path;

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The section of `text` under `heading`, up to the next heading of the same or a higher level.
fn section<'a>(text: &'a str, heading: &str) -> &'a str {
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("no section {heading}"));
    let level = heading.chars().take_while(|c| *c == '#').count();
    let body = &text[start + heading.len()..];
    let end = body
        .match_indices("\n#")
        .find(|(i, _)| {
            let hashes = body[i + 1..].chars().take_while(|c| *c == '#').count();
            hashes <= level && body[i + 1 + hashes..].starts_with(' ')
        })
        .map_or(body.len(), |(i, _)| i);
    &body[..end]
}

/// Every `role-duration-seconds: N` in `text`.
fn durations(text: &str) -> Vec<u32> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("role-duration-seconds:"))
        .map(|v| {
            v.split('#')
                .next()
                .unwrap_or_default()
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("role-duration-seconds `{v}`: {e}"))
        })
        .collect()
}

#[test]
fn the_documented_role_allows_the_session_the_workflows_ask_for() {
    let readme = read("README.md");
    let setup = section(&readme, "### GitHub Actions with OIDC");
    // The role is created with the CLI as written, with its maximum session duration.
    let create = setup
        .split("aws iam create-role")
        .nth(1)
        .expect("the setup creates the role with `aws iam create-role`");
    let command: String = create
        .lines()
        .take_while(|l| !l.trim().is_empty() && !l.contains("```"))
        .collect::<Vec<_>>()
        .join(" ");
    let max: u32 = command
        .split_whitespace()
        .skip_while(|w| *w != "--max-session-duration")
        .nth(1)
        .unwrap_or_else(|| {
            panic!("`aws iam create-role` without --max-session-duration: {command}")
        })
        .parse()
        .expect("a number of seconds");
    assert!((3600..=43_200).contains(&max), "{max}");
    assert!(
        command.contains("--assume-role-policy-document"),
        "{command}"
    );
    assert!(setup.contains("sts:AssumeRoleWithWebIdentity"));
    assert!(setup.contains("loadgate stack policy --run"));
    assert!(setup.contains("aws iam attach-role-policy"));

    let mut asked = durations(&readme);
    for example in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/github"))
        .expect("examples/github")
    {
        let path = example.expect("entry").path();
        asked.extend(durations(&std::fs::read_to_string(&path).expect("example")));
    }
    assert!(!asked.is_empty(), "no role-duration-seconds found");
    for seconds in asked {
        assert!(
            seconds <= max,
            "a workflow asks for {seconds} s but the documented role allows {max} s"
        );
    }
}
