//! Closed model: virtual users, each with its own keep-alive connection, walking the request list
//! in a loop until the deadline.

use std::pin::pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::client::Conn;
use super::{after, request, Ctx};

pub(crate) async fn run(ctx: Rc<Ctx>, users: u32, ramp_up: Duration, think_time: Duration) {
    let handles: Vec<_> = (0..users)
        .map(|k| {
            // User k starts at start + ramp_up * k / users: a linear ramp.
            let offset = ramp_up.mul_f64(f64::from(k) / f64::from(users));
            let begin = after(ctx.start, offset);
            if ctx.users.is_some() {
                tokio::task::spawn_local(super::flow::user(ctx.clone(), begin, think_time))
            } else {
                tokio::task::spawn_local(user(ctx.clone(), begin, think_time))
            }
        })
        .collect();
    for handle in handles {
        // A user task only ends by returning; a panic in one would be a bug, not a result.
        let _ = handle.await;
    }
}

async fn user(ctx: Rc<Ctx>, begin: Instant, think_time: Duration) {
    tokio::time::sleep_until(tokio::time::Instant::from_std(begin)).await;
    if ctx.past_deadline() {
        return;
    }
    ctx.active.set(ctx.active.get() + 1);
    // One connection per origin the requests go to; almost always one.
    let mut conns: Vec<Option<Conn>> = (0..ctx.origins.len()).map(|_| None).collect();
    let mut timer = pin!(tokio::time::sleep(ctx.timeout));
    'run: loop {
        for index in 0..ctx.requests.len() {
            if ctx.past_deadline() {
                break 'run;
            }
            let slot = &mut conns[ctx.requests[index].origin];
            let end = request::execute(&ctx, slot, index, None, timer.as_mut()).await;
            if !think_time.is_zero() {
                let wake = after(end, think_time);
                if wake >= ctx.deadline {
                    break 'run;
                }
                // Idle until then: its read buffer is not needed.
                if let Some(conn) = conns[ctx.requests[index].origin].as_mut() {
                    conn.park();
                }
                tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await;
            }
        }
    }
    ctx.active.set(ctx.active.get() - 1);
}
