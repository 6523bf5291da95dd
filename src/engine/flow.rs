//! The per-user path: virtual users with state of their own (rows, captures, cookies), walking a
//! setup once and then flows picked by weight. A plan without any of that never comes here: it
//! runs the plain loops of `closed.rs` and `open.rs`.

use std::pin::{pin, Pin};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use tokio::time::Sleep;
use url::Url;

use crate::plan::DynamicPlan;
use crate::stats::{ErrorKind, FailureSample};

use super::capture::{self, Verdict};
use super::client::{expects_body, micros, Conn, Origin};
use super::http1::Keep;
use super::open::Shared;
use super::request::{record_failure, Masker, SAMPLE_BODY};
use super::send::{send, Reply};
use super::template::{render, Escape};
use super::user::{User, UserCtx, MAX_CAPTURE_BODY};
use super::{after, Ctx};

/// Where a user's requests find their connections.
pub(crate) trait Slots {
    fn take(&mut self, origin: usize) -> Option<Conn>;
    fn put(&mut self, origin: usize, conn: Option<Conn>);
    /// Whether idle connections should give back their buffers (a pause is coming).
    fn park(&mut self, origin: usize);
}

/// The closed model: one kept connection per origin for the user's life.
impl Slots for Vec<Option<Conn>> {
    fn take(&mut self, origin: usize) -> Option<Conn> {
        self[origin].take()
    }
    fn put(&mut self, origin: usize, conn: Option<Conn>) {
        self[origin] = conn;
    }
    fn park(&mut self, origin: usize) {
        if let Some(c) = self[origin].as_mut() {
            c.park();
        }
    }
}

/// The open model: connections from the thread's idle pool.
struct Pool<'a>(&'a Shared);

impl Slots for Pool<'_> {
    fn take(&mut self, origin: usize) -> Option<Conn> {
        self.0.take(origin)
    }
    fn put(&mut self, origin: usize, conn: Option<Conn>) {
        if let Some(c) = conn {
            self.0.give_back(origin, c);
        }
    }
    fn park(&mut self, _: usize) {}
}

impl Masker for User {
    fn mask(&self, text: &str) -> String {
        User::mask(self, text)
    }
}

enum Run {
    Done,
    /// A capture failed: the rest of the list was skipped (and counted).
    Skipped,
    Deadline,
}

/// A closed-model user on the per-user path.
pub(crate) async fn user(ctx: Rc<Ctx>, begin: Instant, think_time: Duration) {
    tokio::time::sleep_until(tokio::time::Instant::from_std(begin)).await;
    if ctx.past_deadline() {
        return;
    }
    let Some(uc) = ctx.users.as_ref() else {
        return;
    };
    ctx.active.set(ctx.active.get() + 1);
    let mut user = User::new(ctx.plan.clone());
    let mut conns: Vec<Option<Conn>> = (0..ctx.origins.len()).map(|_| None).collect();
    let mut timer = pin!(tokio::time::sleep(ctx.timeout));
    let mut set_up = uc.setup.is_empty();
    let think = Think {
        min: think_time,
        max: uc.think_max,
    };
    if user.take_rows(&uc.user_feeds) {
        while !ctx.past_deadline() {
            let (list, feeds, flow) = if set_up {
                let f = uc.pick_flow(&mut user.rng);
                (&uc.flows[f], &uc.flow_feeds[f], Some(f))
            } else {
                (&uc.setup, &uc.setup_feeds, None)
            };
            // A `unique` feed with `on_exhausted: stop` ran out: this user is done.
            if !user.take_rows(feeds) {
                break;
            }
            if let (Some(f), true) = (flow, uc.named) {
                ctx.recorder.borrow_mut().flow(f);
            }
            let (run, _) = run_list(
                &ctx,
                uc,
                &mut user,
                &mut conns,
                list,
                None,
                think,
                timer.as_mut(),
            )
            .await;
            match run {
                Run::Deadline => break,
                Run::Done if flow.is_none() => set_up = true,
                // A setup that failed is tried again before the next iteration.
                Run::Skipped if flow.is_none() => {}
                _ => user.iteration += 1,
            }
        }
    }
    ctx.active.set(ctx.active.get() - 1);
}

/// An open-model arrival on the per-user path: a new user that runs the setup, then one
/// iteration of a flow. The first request is measured from the scheduled time.
pub(crate) async fn arrival(
    ctx: &Ctx,
    shared: &Shared,
    scheduled: Instant,
    mut timer: Pin<&mut Sleep>,
) {
    let Some(uc) = ctx.users.as_ref() else {
        return;
    };
    let mut user = User::new(ctx.plan.clone());
    let mut pool = Pool(shared);
    let think = Think::none();
    let f = uc.pick_flow(&mut user.rng);
    let rows = user.take_rows(&uc.user_feeds)
        && (uc.setup.is_empty() || user.take_rows(&uc.setup_feeds))
        && user.take_rows(&uc.flow_feeds[f]);
    if !rows {
        // The feed ran out: the arrival is counted as dropped.
        let first = uc.setup.first().or_else(|| uc.flows[f].first());
        if let Some(&i) = first {
            ctx.recorder
                .borrow_mut()
                .label(ctx.requests[i].label)
                .record_dropped();
        }
        return;
    }
    let mut from = scheduled;
    if !uc.setup.is_empty() {
        let (run, end) = run_list(
            ctx,
            uc,
            &mut user,
            &mut pool,
            &uc.setup,
            Some(from),
            think,
            timer.as_mut(),
        )
        .await;
        if !matches!(run, Run::Done) {
            // Without its setup the flow cannot run: its requests count as skipped.
            if matches!(run, Run::Skipped) {
                skip(ctx, &uc.flows[f]);
            }
            return;
        }
        from = end;
    }
    if uc.named {
        ctx.recorder.borrow_mut().flow(f);
    }
    run_list(
        ctx,
        uc,
        &mut user,
        &mut pool,
        &uc.flows[f],
        Some(from),
        think,
        timer.as_mut(),
    )
    .await;
}

#[derive(Clone, Copy)]
struct Think {
    min: Duration,
    max: Option<Duration>,
}

impl Think {
    fn none() -> Think {
        Think {
            min: Duration::ZERO,
            max: None,
        }
    }

    fn draw(&self, rng: &mut fastrand::Rng) -> Duration {
        match self.max {
            Some(max) if max > self.min => {
                let span = (max - self.min).as_micros() as u64;
                self.min + Duration::from_micros(rng.u64(0..=span))
            }
            _ => self.min,
        }
    }
}

fn skip(ctx: &Ctx, rest: &[usize]) {
    let mut recorder = ctx.recorder.borrow_mut();
    for &j in rest {
        recorder.label(ctx.requests[j].label).skipped += 1;
    }
}

/// Sends the requests of `list` in order. `from`: the open model's measuring start of the
/// first request (each later one from the end of the one before). Returns how it ended and
/// when its last request did.
#[allow(clippy::too_many_arguments)]
async fn run_list<S: Slots>(
    ctx: &Ctx,
    uc: &UserCtx,
    user: &mut User,
    slots: &mut S,
    list: &[usize],
    mut from: Option<Instant>,
    think: Think,
    mut timer: Pin<&mut Sleep>,
) -> (Run, Instant) {
    let mut end = Instant::now();
    for (k, &index) in list.iter().enumerate() {
        // An open-model arrival sends its first request even at the deadline (it was scheduled
        // before it); a closed-model user starts nothing at or after it.
        if (k > 0 || from.is_none()) && ctx.past_deadline() {
            return (Run::Deadline, end);
        }
        let origin = ctx.requests[index].origin;
        let mut slot = slots.take(origin);
        let (e, go_on) = step(ctx, uc, user, &mut slot, index, from, timer.as_mut()).await;
        slots.put(origin, slot);
        end = e;
        if from.is_some() {
            from = Some(end);
        }
        if !go_on {
            skip(ctx, &list[k + 1..]);
            return (Run::Skipped, end);
        }
        let pause = think.draw(&mut user.rng);
        if !pause.is_zero() {
            let wake = after(end, pause);
            if wake >= ctx.deadline {
                return (Run::Deadline, end);
            }
            slots.park(origin);
            tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await;
        }
    }
    (Run::Done, end)
}

/// Where a request (or a redirect hop) goes.
struct Hop {
    method: http::Method,
    /// A redirect to an origin the plan does not know; None: the request's own origin.
    origin: Option<Origin>,
    /// Origin-form target of a redirect hop.
    target: Option<String>,
    /// A hop without the original body (303, or 301/302 after a POST).
    drop_body: bool,
}

/// One request of the plan for `user`, redirects included; records everything. Returns when it
/// ended and whether the iteration goes on (false: a capture failed or could not be made).
async fn step(
    ctx: &Ctx,
    uc: &UserCtx,
    user: &mut User,
    slot: &mut Option<Conn>,
    index: usize,
    measure_from: Option<Instant>,
    mut timer: Pin<&mut Sleep>,
) -> (Instant, bool) {
    let req = &ctx.requests[index];
    let plan_req = &ctx.plan.requests[index];
    let d = plan_req.dynamic.as_deref();
    let extra = &uc.reqs[index];
    let cookies = ctx.plan.users.cookies;
    let captures = d.is_some_and(|d| !d.captures.is_empty());
    let mut hop = Hop {
        method: req.method.clone(),
        origin: None,
        target: None,
        drop_body: false,
    };
    let mut hops_left = extra.redirects;
    let mut from = measure_from;
    let mut temp_slot: Option<Conn> = None;
    loop {
        let origin = hop.origin.as_ref().unwrap_or(&ctx.origins[req.origin]);
        let mut wire = std::mem::take(&mut user.wire);
        build(ctx, user, index, d, &hop, origin, cookies, &mut wire);
        let final_hop = hops_left == 0;
        let wants_sample = |code: u16| {
            !plan_req.status_ok(code)
                && ctx
                    .recorder
                    .borrow()
                    .failures
                    .wants(ErrorKind::Status, Some(code))
        };
        let keep = |status: u16, sets_cookie: bool| {
            let redirect = !final_hop && is_redirect(status);
            let ok = plan_req.status_ok(status) || redirect;
            Keep {
                head: (sets_cookie && cookies)
                    || redirect
                    || (ok && (extra.reads_headers || extra.reads_body)),
                body: if redirect {
                    0
                } else if ok && extra.reads_body {
                    MAX_CAPTURE_BODY + 1
                } else if wants_sample(status) {
                    SAMPLE_BODY
                } else {
                    0
                },
            }
        };
        let conn_slot = if hop.origin.is_some() {
            &mut temp_slot
        } else {
            &mut *slot
        };
        let head_request = hop.method == http::Method::HEAD;
        let (end, result) = send(
            ctx,
            conn_slot,
            origin,
            req.label,
            &wire,
            head_request,
            &keep,
            timer.as_mut(),
        )
        .await;
        let bytes_sent = wire.len() as u64;
        user.wire = wire;
        let reply = match result {
            Ok(r) => r,
            Err(failure) => {
                record_failure(ctx, index, req.label, bytes_sent, &failure, &*user);
                return (end, !captures);
            }
        };
        if cookies {
            let path = current_target(&user.wire);
            let now = SystemTime::now();
            for v in reply.headers_named("set-cookie") {
                user.jar.store(v, origin.host(), &path, now);
            }
        }
        let rt = micros(from.unwrap_or(reply.sent), end);
        let ttfb = micros(reply.sent, reply.first_byte);
        let location = (!final_hop && is_redirect(reply.status))
            .then(|| reply.header("location"))
            .flatten();
        if let Some(location) = location {
            // A hop: measured and counted on its own, under the request's label.
            ctx.recorder
                .borrow_mut()
                .label(req.label)
                .record_response_as(reply.status, None, rt, ttfb, bytes_sent, reply.received);
            let base = format!(
                "{}://{}{}",
                if origin.is_https() { "https" } else { "http" },
                origin.authority(),
                current_target(&user.wire)
            );
            let Some(next) = Url::parse(&base).ok().and_then(|b| b.join(location).ok()) else {
                return (end, true);
            };
            let Some(next_origin) = Origin::of(&next) else {
                return (end, true);
            };
            let target = match next.query() {
                Some(q) => format!("{}?{q}", next.path()),
                None => next.path().to_string(),
            };
            let own = &ctx.origins[req.origin];
            let see_other = reply.status == 303
                || (matches!(reply.status, 301 | 302)
                    && hop.method != http::Method::GET
                    && hop.method != http::Method::HEAD);
            if see_other {
                hop.method = http::Method::GET;
                hop.drop_body = true;
            }
            if !own.same(&next_origin) {
                hop.origin = Some(next_origin);
                temp_slot = None;
            } else {
                hop.origin = None;
            }
            hop.target = Some(target);
            hops_left -= 1;
            from = None;
            continue;
        }
        let status_ok = plan_req.status_ok(reply.status);
        let verdict = match (status_ok, d) {
            (true, Some(d)) if !d.checks.is_empty() || !d.captures.is_empty() => {
                capture::evaluate(d, extra, &reply, &mut user.captures).err()
            }
            _ => None,
        };
        let kind = match (&verdict, status_ok) {
            (_, false) => Some(ErrorKind::Status),
            (Some(Verdict::Check(_)), _) => Some(ErrorKind::Check),
            (Some(Verdict::Capture(_)), _) => Some(ErrorKind::Capture),
            (None, true) => None,
        };
        let mut recorder = ctx.recorder.borrow_mut();
        recorder.label(req.label).record_response_as(
            reply.status,
            kind,
            rt,
            ttfb,
            bytes_sent,
            reply.received,
        );
        if let Some(kind) = kind {
            let status = (kind == ErrorKind::Status).then_some(reply.status);
            if recorder.failures.wants(kind, status) {
                let message = match &verdict {
                    Some(Verdict::Check(m)) | Some(Verdict::Capture(m)) if status_ok => m.clone(),
                    _ => status_line(reply.status),
                };
                recorder.failures.push(FailureSample {
                    label: plan_req.name.clone(),
                    kind,
                    status,
                    message: user.mask(&message),
                    body: Some(user.mask(&sample_body(&reply))),
                });
            }
        }
        let go_on = match kind {
            None | Some(ErrorKind::Check) => true,
            _ => !captures,
        };
        return (end, go_on);
    }
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

fn status_line(status: u16) -> String {
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("HTTP/1.1 {status} {reason}").trim_end().to_string()
}

fn sample_body(reply: &Reply) -> String {
    let body = capture::decoded(reply)
        .unwrap_or_else(|_| reply.body.as_deref().unwrap_or_default().into());
    let cut = &body[..body.len().min(SAMPLE_BODY)];
    String::from_utf8_lossy(cut).into_owned()
}

/// The request target of rendered bytes (`METHOD SP target SP ...`).
fn current_target(wire: &[u8]) -> String {
    let line = wire.split(|&b| b == b'\r').next().unwrap_or_default();
    let mut parts = line.splitn(3, |&b| b == b' ');
    let _method = parts.next();
    String::from_utf8_lossy(parts.next().unwrap_or(b"/")).into_owned()
}

/// Renders request `index` (or a redirect hop of it) for `user` into `out`: request line, the
/// fixed headers, templated headers, cookies, `Content-Length` and the body.
#[allow(clippy::too_many_arguments)]
fn build(
    ctx: &Ctx,
    user: &mut User,
    index: usize,
    d: Option<&DynamicPlan>,
    hop: &Hop,
    origin: &Origin,
    cookies: bool,
    out: &mut Vec<u8>,
) {
    let req = &ctx.requests[index];
    out.clear();
    out.extend_from_slice(hop.method.as_str().as_bytes());
    out.push(b' ');
    let target_start = out.len();
    match (&hop.target, d.and_then(|d| d.target.as_ref())) {
        (Some(t), _) => out.extend_from_slice(t.as_bytes()),
        (None, Some(t)) => render(t, user, Escape::Target, out),
        (None, None) => out.extend_from_slice(req.target.as_bytes()),
    }
    let target_end = out.len();
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let cross_origin = hop.origin.is_some();
    for (name, value) in &req.headers {
        if *name == http::header::CONTENT_LENGTH
            || (cross_origin && *name != http::header::HOST)
            || d.is_some_and(|d| {
                d.headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
            })
        {
            continue;
        }
        if *name == http::header::HOST && cross_origin {
            header(out, "host", origin.authority().as_bytes());
            continue;
        }
        header(out, name.as_str(), value.as_bytes());
    }
    if let (Some(d), false) = (d, cross_origin) {
        for (name, t) in &d.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            render(t, user, Escape::Header, out);
            out.extend_from_slice(b"\r\n");
        }
    }
    if cookies && !user.jar.is_empty() {
        let path = String::from_utf8_lossy(&out[target_start..target_end]).into_owned();
        if let Some(c) = user
            .jar
            .header(origin.host(), &path, origin.is_https(), SystemTime::now())
        {
            header(out, "cookie", c.as_bytes());
        }
    }
    let mut body = std::mem::take(&mut user.body);
    body.clear();
    if !hop.drop_body {
        match d.and_then(|d| d.body.as_ref()) {
            Some(t) => render(t, user, Escape::Body, &mut body),
            None => body.extend_from_slice(&req.body),
        }
    }
    if !body.is_empty() || expects_body(&hop.method) {
        header(out, "content-length", body.len().to_string().as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&body);
    user.body = body;
}

fn header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}
