// Live job events over a websocket that survives network drops and laptop sleep.
// The server replays every stored event after `?after=<seq>` and then streams live ones
// (docs/api.md, "Websockets"), so the client only has to remember the last seq it applied and
// drop anything at or below it: a replay that overlaps live delivery is then harmless.

/** Remembers the highest seq applied; `accept` says whether an event is new. */
export class SeqTracker {
  constructor(lastSeq = 0) {
    this.lastSeq = lastSeq;
  }

  accept(event) {
    if (typeof event?.seq !== "number" || event.seq <= this.lastSeq) return false;
    this.lastSeq = event.seq;
    return true;
  }
}

// 4401: not logged in, 4404: not the user's job (docs/api.md); retrying cannot help.
export const FATAL_CLOSE_CODES = new Set([4401, 4403, 4404]);

/** Reconnect delay in ms: doubles from `base` per failed try, capped at `cap`. */
export function backoffDelay(attempt, base = 500, cap = 10000) {
  return Math.min(cap, base * 2 ** Math.max(0, attempt));
}

// A job's socket asks for batched frames (a JSON list of events each; docs/api.md): with many
// watchers of a busy job the server sends fewer, larger frames.
export function jobSocketUrl(location, jobId, after) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  const path = jobId == null ? "/ws/jobs/" : `/ws/jobs/${jobId}/`;
  const params = [];
  if (after != null) params.push(`after=${after}`);
  if (jobId != null) params.push("batch=1");
  const query = params.length ? `?${params.join("&")}` : "";
  return `${proto}//${location.host}${path}${query}`;
}

/**
 * Keeps one websocket open to `makeUrl(lastSeq)`, reopening it after a drop with backoff.
 * A message is one event or a list of events (batched frames, `?batch=1`).
 * Events are passed to `onEvent` once each, in seq order when `tracked` (per-job streams);
 * `onState` gets "connecting" | "open" | "closed" | "fatal" for a connection indicator.
 * `env` holds the browser pieces (WebSocket, setTimeout, clearTimeout, setInterval,
 * clearInterval, now) so tests can drive it.
 * A socket can die silently (laptop sleep, NAT timeout): every `heartbeatMs` the client sends
 * {"type": "ping"} (the server answers "pong"); a socket that stayed silent for two periods is
 * given up and replaced.
 * Returns {close(), reconnectNow(), tracker}.
 */
export function openEventStream({ makeUrl, onEvent, onState = () => {}, onOpen = () => {},
                                  tracked = true, lastSeq = 0, heartbeatMs = 20000, env = globalThis }) {
  const tracker = new SeqTracker(lastSeq);
  const now = () => (env.now ? env.now() : Date.now());
  let socket = null;
  let timer = null;
  let attempt = 0;
  let stopped = false;
  let lastHeard = 0;
  const beat = env.setInterval(() => {
    if (!socket || socket.readyState !== 1) return;
    if (now() - lastHeard > 2 * heartbeatMs) {
      const dead = socket;
      socket = null;
      dead.close(4000);
      onState("closed");
      connect();
      return;
    }
    socket.send(JSON.stringify({ type: "ping" }));
  }, heartbeatMs);

  function connect() {
    timer = null;
    if (stopped) return;
    onState("connecting");
    const ws = new env.WebSocket(makeUrl(tracked ? tracker.lastSeq : null));
    socket = ws;
    ws.onopen = () => {
      if (ws !== socket) return;
      attempt = 0;
      lastHeard = now();
      onState("open");
      onOpen();
    };
    ws.onmessage = (message) => {
      if (ws !== socket) return;
      lastHeard = now();
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      // a batched frame is a list of events, in order; an unbatched one is one event
      for (const event of Array.isArray(frame) ? frame : [frame]) {
        if (event?.type === "pong") continue;
        if (tracked && !tracker.accept(event)) continue;
        onEvent(event);
      }
    };
    ws.onclose = (close) => {
      if (ws !== socket) return;
      socket = null;
      if (stopped) return;
      if (FATAL_CLOSE_CODES.has(close.code)) {
        stopped = true;
        env.clearInterval(beat);
        onState("fatal", close.code);
        return;
      }
      onState("closed");
      timer = env.setTimeout(connect, backoffDelay(attempt++));
    };
  }

  connect();
  return {
    tracker,
    /** Skip the backoff wait (the browser came back online or the tab became visible). */
    reconnectNow() {
      if (stopped || socket) return;
      if (timer !== null) env.clearTimeout(timer);
      connect();
    },
    close() {
      stopped = true;
      env.clearInterval(beat);
      if (timer !== null) env.clearTimeout(timer);
      if (socket) {
        const ws = socket;
        socket = null;
        ws.close(1000);
      }
    },
  };
}

/** Wires `reconnectNow` to the browser's online and visibility signals. */
export function reconnectOnWake(stream, win = globalThis) {
  win.addEventListener?.("online", () => stream.reconnectNow());
  win.document?.addEventListener?.("visibilitychange", () => {
    if (win.document.visibilityState === "visible") stream.reconnectNow();
  });
}
