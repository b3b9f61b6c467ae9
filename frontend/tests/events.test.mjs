// Event stream: resume from the last seq after a drop, never apply an event twice.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SeqTracker, openEventStream, backoffDelay, jobSocketUrl } from "../static/frontend/events.js";

// A stand-in for the browser's WebSocket and timers, so the test can drop connections at will.
function fakeBrowser() {
  const sockets = [];
  const timers = [];
  const delays = [];
  class FakeWebSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      sockets.push(this);
    }
    open() {
      this.readyState = 1;
      this.onopen?.({});
    }
    // what the server sends to the client
    deliver(event) { this.onmessage?.({ data: JSON.stringify(event) }); }
    // what the client sends to the server
    send(text) { this.sent.push(JSON.parse(text)); }
    drop(code = 1006) {
      this.readyState = 3;
      this.onclose?.({ code });
    }
    close(code) { this.closedWith = code; }
  }
  const clock = { t: 0, intervals: [] };
  return {
    sockets,
    timers,
    delays,
    env: {
      WebSocket: FakeWebSocket,
      setTimeout: (fn, ms) => {
        delays.push(ms);
        return timers.push({ fn, ms }) - 1;
      },
      clearTimeout: (id) => {
        if (timers[id]) timers[id].cancelled = true;
      },
      setInterval: (fn, ms) => clock.intervals.push({ fn, ms }) - 1,
      clearInterval: (id) => { clock.intervals[id].cancelled = true; },
      now: () => clock.t,
    },
    // advance the clock by `ms`, running the heartbeat when it is due
    tick(ms) {
      clock.t += ms;
      for (const i of clock.intervals) if (!i.cancelled) i.fn();
    },
    fireTimers() {
      for (const t of timers.splice(0)) if (!t.cancelled) t.fn();
    },
  };
}

const ev = (seq, type = "log") => ({ seq, type, data: { text: `line ${seq}` } });

test("SeqTracker accepts increasing seqs and drops repeats and older ones", () => {
  const t = new SeqTracker();
  assert.deepEqual([1, 2, 2, 1, 3, 5, 4].map((s) => t.accept({ seq: s })),
    [true, true, false, false, true, true, false]);
  assert.equal(t.lastSeq, 5);
  assert.equal(t.accept({ type: "status" }), false);
});

test("reconnect asks for events after the last seq and skips the overlap", () => {
  const b = fakeBrowser();
  const got = [];
  openEventStream({ makeUrl: (after) => `ws://h/ws/jobs/7/?after=${after}`, onEvent: (e) => got.push(e.seq), env: b.env });
  const first = b.sockets[0];
  assert.equal(first.url, "ws://h/ws/jobs/7/?after=0");
  first.open();
  [1, 2, 3].forEach((s) => first.deliver(ev(s)));
  first.drop();
  b.fireTimers();
  const second = b.sockets[1];
  assert.equal(second.url, "ws://h/ws/jobs/7/?after=3");
  second.open();
  // A server may replay from a slightly older point: events 2 and 3 must not show twice.
  [2, 3, 4, 5].forEach((s) => second.deliver(ev(s)));
  assert.deepEqual(got, [1, 2, 3, 4, 5]);
});

test("messages from a socket that was replaced are ignored", () => {
  const b = fakeBrowser();
  const got = [];
  const stream = openEventStream({ makeUrl: (a) => `u?after=${a}`, onEvent: (e) => got.push(e.seq), env: b.env });
  const old = b.sockets[0];
  old.open();
  old.deliver(ev(1));
  old.drop();
  stream.reconnectNow();
  assert.equal(b.timers.filter((t) => !t.cancelled).length, 0);
  old.deliver(ev(2)); // late delivery on the dead socket
  b.sockets[1].deliver(ev(2));
  assert.deepEqual(got, [1, 2]);
});

test("backoff doubles and is capped; a successful open resets it", () => {
  assert.deepEqual([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 500, 4000)), [500, 1000, 2000, 4000, 4000]);
  const b = fakeBrowser();
  openEventStream({ makeUrl: () => "u", onEvent() {}, env: b.env });
  b.sockets[0].drop();
  b.fireTimers();
  b.sockets[1].drop();
  assert.deepEqual(b.delays, [500, 1000]);
  b.fireTimers();
  b.sockets[2].open();
  b.sockets[2].drop();
  assert.deepEqual(b.delays, [500, 1000, 500]);
});

test("4404 (not your job) and 4401 (logged out) stop reconnecting", () => {
  for (const code of [4404, 4401]) {
    const b = fakeBrowser();
    const states = [];
    openEventStream({ makeUrl: () => "u", onEvent() {}, onState: (s, c) => states.push([s, c]), env: b.env });
    b.sockets[0].drop(code);
    assert.equal(b.timers.length, 0);
    assert.deepEqual(states[states.length - 1], ["fatal", code]);
  }
});

test("close() stops the stream for good", () => {
  const b = fakeBrowser();
  const stream = openEventStream({ makeUrl: () => "u", onEvent() {}, env: b.env });
  stream.close();
  assert.equal(b.sockets[0].closedWith, 1000);
  b.sockets[0].drop();
  stream.reconnectNow();
  assert.equal(b.sockets.length, 1);
});

test("untracked streams (the jobs list) pass every event and reconnect without ?after", () => {
  const b = fakeBrowser();
  const got = [];
  openEventStream({ makeUrl: (a) => jobSocketUrl({ protocol: "https:", host: "lab" }, null, a), tracked: false,
    onEvent: (e) => got.push(e.job), env: b.env });
  assert.equal(b.sockets[0].url, "wss://lab/ws/jobs/");
  b.sockets[0].deliver({ job: 1, type: "status", seq: 4 });
  b.sockets[0].deliver({ job: 2, type: "status", seq: 4 });
  assert.deepEqual(got, [1, 2]);
});

test("heartbeat pings a quiet socket and replaces one that went silent (laptop sleep)", () => {
  const b = fakeBrowser();
  const got = [];
  openEventStream({ makeUrl: (a) => `u?after=${a}`, onEvent: (e) => got.push(e.seq), heartbeatMs: 1000, env: b.env });
  const ws = b.sockets[0];
  ws.open();
  ws.deliver(ev(1));
  b.tick(1000);
  assert.deepEqual(ws.sent, [{ type: "ping" }]);
  ws.deliver({ type: "pong", seq: 1 }); // answers keep it alive and are not events
  b.tick(1000);
  b.tick(1000);
  assert.equal(b.sockets.length, 1);
  b.tick(1001); // nothing heard for more than two periods: the socket is dead without a close
  assert.equal(b.sockets.length, 2);
  assert.equal(ws.closedWith, 4000);
  assert.equal(b.sockets[1].url, "u?after=1");
  ws.deliver(ev(2)); // the old socket is ignored even if it wakes up
  b.sockets[1].open();
  b.sockets[1].deliver(ev(2));
  assert.deepEqual(got, [1, 2]);
});

test("a job's socket asks for batched frames; the jobs list's does not", () => {
  const loc = { protocol: "http:", host: "lab" };
  assert.equal(jobSocketUrl(loc, 7, 3), "ws://lab/ws/jobs/7/?after=3&batch=1");
  assert.equal(jobSocketUrl(loc, 7, null), "ws://lab/ws/jobs/7/?batch=1");
  assert.equal(jobSocketUrl(loc, null, null), "ws://lab/ws/jobs/");
});

test("a batched frame (a list of events) is applied event by event, each once, in order", () => {
  const b = fakeBrowser();
  const got = [];
  openEventStream({ makeUrl: (after) => jobSocketUrl({ protocol: "http:", host: "h" }, 7, after),
    onEvent: (e) => got.push(e.seq), env: b.env });
  const first = b.sockets[0];
  assert.equal(first.url, "ws://h/ws/jobs/7/?after=0&batch=1");
  first.open();
  first.deliver([ev(1), ev(2), ev(3)]);
  first.deliver({ type: "pong", seq: 3 }); // a pong stays an object
  first.deliver([ev(4)]);
  first.drop();
  b.fireTimers();
  const second = b.sockets[1];
  assert.equal(second.url, "ws://h/ws/jobs/7/?after=4&batch=1");
  second.open();
  second.deliver([ev(3), ev(4), ev(5), ev(6)]); // an overlapping replay: 3 and 4 not twice
  second.deliver(ev(7)); // a single event still works
  assert.deepEqual(got, [1, 2, 3, 4, 5, 6, 7]);
});
