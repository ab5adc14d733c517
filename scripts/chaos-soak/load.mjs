/**
 * A small fixed-rate HTTP load generator (open loop): requests are started on a schedule of
 * `rate` per second whatever the answers do, over keep-alive connections, so a slow or absent
 * answer shows as latency or errors instead of silently lowering the rate (what a closed-loop
 * tool would do). When `maxInFlight` requests are already waiting, a scheduled request is not
 * sent and is counted as `skipped`: the achieved rate is always reported next to the target.
 *
 * Written here rather than driving autocannon because each answer must be judged against who
 * sent it and what Keycloak would decide (status and body per request), at a fixed rate.
 */
import { Agent, request } from 'node:http';

const now = () => performance.timeOrigin + performance.now();

/** Latency histogram in 0.1 ms steps up to 30 s (the last bucket holds anything longer). */
export class Histogram {
  constructor() {
    this.buckets = new Uint32Array(300_001);
    this.count = 0;
  }
  add(ms) {
    this.buckets[Math.min(this.buckets.length - 1, Math.round(ms * 10))]++;
    this.count++;
  }
  /** The q-quantile in ms (upper edge of its bucket). */
  quantile(q) {
    let seen = 0;
    const target = q * this.count;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i];
      if (seen >= target && seen > 0) return i / 10;
    }
    return 0;
  }
}

/**
 * @typedef {{ id: string, front: string, method: string, path: string, body?: string | (() => string), headers: Record<string, string> }} RouteSpec
 * @typedef {{ route: RouteSpec, user: string, token: string | undefined, port: number, tag?: string }} Shot
 * @typedef {{ shot: Shot, status: number, body: string, error: string | undefined, start: number, end: number }} Result
 */

export class FixedRateLoad {
  /**
   * @param {{ rate: number, pick: () => Shot, onResult: (r: Result) => void, maxInFlight?: number, timeoutMs?: number, sockets?: number }} o
   */
  constructor(o) {
    this.pick = o.pick;
    this.onResult = o.onResult;
    this.maxInFlight = o.maxInFlight ?? 512;
    this.timeoutMs = o.timeoutMs ?? 10_000;
    this.agent = new Agent({ keepAlive: true, maxSockets: o.sockets ?? 128, keepAliveMsecs: 10_000 });
    this.inFlight = 0;
    this.sent = 0;
    this.done = 0;
    this.skipped = 0;
    this.histogram = new Histogram();
    this.setRate(o.rate);
  }

  /** Changes the rate from now on (the schedule restarts, so no burst makes up for the past). */
  setRate(rate) {
    this.rate = rate;
    this.epoch = now();
    this.scheduled = 0;
  }

  start() {
    this.startedAt = now();
    this.timer = setInterval(() => this.tick(), 2);
  }

  /** Stops scheduling and waits (bounded) for the requests still in flight. */
  async stop() {
    clearInterval(this.timer);
    this.stoppedAt = now();
    const deadline = now() + this.timeoutMs + 1000;
    while (this.inFlight > 0 && now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.agent.destroy();
  }

  /** Requests started per second between start() and stop() (or now). */
  achievedRate() {
    return this.sent / (((this.stoppedAt ?? now()) - this.startedAt) / 1000);
  }

  tick() {
    const due = Math.floor(((now() - this.epoch) * this.rate) / 1000);
    while (this.scheduled < due) {
      this.scheduled++;
      if (this.inFlight >= this.maxInFlight) {
        this.skipped++;
        continue;
      }
      this.send(this.pick());
    }
  }

  /** @param {Shot} shot */
  send(shot) {
    const { route } = shot;
    const headers = { ...route.headers };
    if (shot.token) headers.authorization = `Bearer ${shot.token}`;
    const payload = typeof route.body === 'function' ? route.body() : route.body;
    if (payload !== undefined) headers['content-length'] = String(Buffer.byteLength(payload));
    const start = now();
    this.inFlight++;
    this.sent++;
    let settled = false;
    const finish = (status, body, error) => {
      if (settled) return;
      settled = true;
      this.inFlight--;
      this.done++;
      const end = now();
      if (!error) this.histogram.add(end - start);
      this.onResult({ shot, status, body, error, start, end });
    };
    const req = request(
      { host: '127.0.0.1', port: shot.port, method: route.method, path: route.path, headers, agent: this.agent },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c) => {
          if (body.length < 200) body += c;
        });
        res.on('end', () => finish(res.statusCode ?? 0, body, undefined));
        res.on('error', (e) => finish(0, '', e.code ?? e.message));
      },
    );
    req.setTimeout(this.timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e) => finish(0, '', e.code ?? e.message));
    req.end(payload);
  }
}
