//! Open model: arrivals at a rate that does not depend on how fast the target answers.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio::time::Sleep;

use super::client::Conn;
use super::pacer::Pacer;
use super::{after, client, request, Ctx};

pub(crate) async fn run(ctx: Rc<Ctx>, rate: f64, ramp_up: Duration, max_in_flight: u32) {
    let shared = Rc::new(Shared {
        in_flight: Cell::new(0),
        idle: Notify::new(),
        pool: (0..ctx.origins.len()).map(|_| Default::default()).collect(),
        released: RefCell::new(VecDeque::new()),
        waiting: Cell::new(0),
        work: Notify::new(),
        no_more: Cell::new(false),
    });
    let first_label = ctx.requests.first().map(|r| r.label);
    let schedule = Schedule::new(rate, ramp_up);
    let mut pacer = Pacer::new();
    let mut late_in_a_row = 0u32;
    for n in 0u64.. {
        let Some(offset) = schedule.arrival(n) else {
            break;
        };
        let scheduled = after(ctx.start, offset);
        if scheduled >= ctx.deadline {
            break;
        }
        if pacer.wait_until(scheduled).await {
            late_in_a_row = 0;
        } else {
            // Behind schedule the loop would not yield at all: let the arrivals it spawned and
            // the connections run now and then while it catches up.
            late_in_a_row += 1;
            if late_in_a_row % 32 == 0 {
                tokio::task::yield_now().await;
            }
        }
        if shared.in_flight.get() >= u64::from(max_in_flight) {
            // Counted, not delayed: a delayed arrival would hide the target's queueing.
            if let Some(label) = first_label {
                ctx.recorder.borrow_mut().label(label).record_dropped();
            }
            continue;
        }
        shared.in_flight.set(shared.in_flight.get() + 1);
        ctx.active.set(shared.in_flight.get());
        shared.released.borrow_mut().push_back(scheduled);
        if shared.waiting.get() > 0 {
            // A waiting worker is registered with `work` (it waits right after counting itself).
            shared.waiting.set(shared.waiting.get() - 1);
            shared.work.notify_one();
        } else {
            tokio::task::spawn_local(worker(ctx.clone(), shared.clone()));
        }
    }
    shared.no_more.set(true);
    shared.waiting.set(0);
    shared.work.notify_waiters();
    // Requests in flight at the deadline finish (each bounded by the timeout), so that the
    // target's count equals ours.
    while shared.in_flight.get() > 0 {
        shared.idle.notified().await;
    }
}

pub(crate) struct Shared {
    in_flight: Cell<u64>,
    /// Signalled when the last arrival in flight ends.
    idle: Notify,
    /// Idle keep-alive connections per origin.
    pool: Vec<RefCell<Vec<Conn>>>,
    /// Scheduled times of arrivals released by the pacer and not yet taken by a worker.
    released: RefCell<VecDeque<Instant>>,
    /// Workers waiting on `work` for an arrival.
    waiting: Cell<u64>,
    work: Notify,
    /// The pacer is done: a worker that finds nothing released ends.
    no_more: Cell<bool>,
}

impl Shared {
    /// An arrival ended.
    fn arrived(&self, ctx: &Ctx) {
        let left = self.in_flight.get() - 1;
        self.in_flight.set(left);
        ctx.active.set(left);
        if left == 0 {
            // notify_one keeps a permit if the waiter is not waiting yet.
            self.idle.notify_one();
        }
    }

    pub(crate) fn take(&self, origin: usize) -> Option<Conn> {
        let mut idle = self.pool[origin].borrow_mut();
        while let Some(conn) = idle.pop() {
            if !conn.is_closed() {
                return Some(conn);
            }
        }
        None
    }

    pub(crate) fn give_back(&self, origin: usize, mut conn: Conn) {
        if !conn.is_closed() {
            conn.park();
            self.pool[origin].borrow_mut().push(conn);
        }
    }
}

/// Runs released arrivals one after the other, then waits for more. A task per arrival would
/// allocate, move in and free a task the size of a whole request's state each time; workers are
/// spawned only as the number in flight grows, and then re-used.
async fn worker(ctx: Rc<Ctx>, shared: Rc<Shared>) {
    let mut timer = pin!(tokio::time::sleep(ctx.timeout));
    loop {
        let next = shared.released.borrow_mut().pop_front();
        match next {
            Some(scheduled) if ctx.users.is_some() => {
                ctx.record_lag(client::micros(scheduled, Instant::now()));
                super::flow::arrival(&ctx, &shared, scheduled, timer.as_mut()).await;
                shared.arrived(&ctx);
            }
            Some(scheduled) => arrival(&ctx, &shared, scheduled, timer.as_mut()).await,
            None if shared.no_more.get() => return,
            None => {
                shared.waiting.set(shared.waiting.get() + 1);
                shared.work.notified().await;
            }
        }
    }
}

/// One pass over the request list. The first request's response time runs from the scheduled
/// time, later ones from the end of the previous request.
async fn arrival(ctx: &Ctx, shared: &Shared, scheduled: Instant, mut timer: Pin<&mut Sleep>) {
    ctx.record_lag(client::micros(scheduled, Instant::now()));
    let mut from = scheduled;
    for (index, req) in ctx.requests.iter().enumerate() {
        if index > 0 && ctx.past_deadline() {
            break;
        }
        let mut slot = shared.take(req.origin);
        from = request::execute(ctx, &mut slot, index, Some(from), timer.as_mut()).await;
        if let Some(conn) = slot {
            shared.give_back(req.origin, conn);
        }
    }
    shared.arrived(ctx);
}

/// Arrival times of a rate that ramps linearly from 0 over `ramp_up`, then holds.
struct Schedule {
    rate: f64,
    ramp: f64,
}

impl Schedule {
    fn new(rate: f64, ramp_up: Duration) -> Self {
        Schedule {
            rate,
            ramp: ramp_up.as_secs_f64(),
        }
    }

    /// Offset of arrival `n` (0-based) from the start: the time at which the integral of the rate
    /// reaches `n`. During the ramp the integral is rate·t²/(2·ramp), after it
    /// rate·ramp/2 + rate·(t − ramp). None when the offset is not a representable duration.
    fn arrival(&self, n: u64) -> Option<Duration> {
        let n = n as f64;
        let in_ramp = self.rate * self.ramp / 2.0;
        let secs = if n < in_ramp {
            (2.0 * self.ramp * n / self.rate).sqrt()
        } else {
            self.ramp + (n - in_ramp) / self.rate
        };
        Duration::try_from_secs_f64(secs).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_ramp_arrivals_are_evenly_spaced() {
        let s = Schedule::new(100.0, Duration::ZERO);
        assert_eq!(s.arrival(0), Some(Duration::ZERO));
        let t = s.arrival(50).unwrap().as_secs_f64();
        assert!((t - 0.5).abs() < 1e-9, "{t}");
    }

    #[test]
    fn the_ramp_sends_half_the_hold_rate_on_average() {
        // 100/s ramped over 2 s: 100 arrivals in the ramp, then 100 per second.
        let s = Schedule::new(100.0, Duration::from_secs(2));
        let count = |secs: f64| {
            (0..)
                .take_while(|&n| s.arrival(n).unwrap().as_secs_f64() < secs)
                .count()
        };
        assert_eq!(count(2.0), 100);
        assert_eq!(count(3.0), 200);
        // Arrivals get denser through the ramp.
        assert_eq!(count(1.0), 25);
        // Monotonic across the ramp's end.
        assert!(s.arrival(99).unwrap() < s.arrival(100).unwrap());
        assert!(s.arrival(100).unwrap() < s.arrival(101).unwrap());
    }
}
