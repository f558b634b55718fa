/**
 * A registry that misbehaves on demand: an HTTP proxy on loopback in front of
 * the real registry that passes every request through, except those a fault
 * rule picks, which it answers 500/502/503, 429 with Retry-After, a 401 as if
 * their token had expired, slowly, by cutting the connection in the middle
 * of a blob, or by changing the registry's answer (a header, the body) as a
 * lying registry or a tampering proxy would. docker and buildx treat loopback registries as plain HTTP, so a
 * repository named `127.0.0.1:<port>/…` sends docker's pushes through it as
 * well as our registry client's requests.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type Fault =
  | { readonly kind: "status"; readonly status: 500 | 502 | 503 }
  | { readonly kind: "too-many-requests"; readonly retryAfterSeconds: number }
  /** The request carried credentials; answered 401 with the registry's challenge, as for an expired token. */
  | { readonly kind: "expired-token" }
  /** Passed through after a wait. */
  | { readonly kind: "slow"; readonly delayMs: number }
  /** The connection is cut after this many bytes of the blob: the request's body on an upload, else the answer's. */
  | { readonly kind: "reset-mid-blob"; readonly afterBytes: number }
  /** The request carried credentials; passed through, with the registry's answer replaced by what `rewrite` makes of it. */
  | { readonly kind: "rewrite"; readonly rewrite: (answer: Answer) => Answer }
  /** Never answered: the request is read and the connection held open until the client leaves or the proxy stops. */
  | { readonly kind: "hang" };

/** A registry's answer, whole: what a rewrite fault sees and changes. Header names are lowercase. */
export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

export type FaultKind = Fault["kind"];

export interface FaultRule {
  readonly fault: Fault;
  /** Which requests: by method (any when absent) and path (any when absent). */
  readonly method?: string | RegExp;
  readonly path?: RegExp;
  /** How many matching requests get it; then the rule is spent. */
  readonly times: number;
}

/** A request the proxy saw, and the fault it got, if any. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly fault?: FaultKind;
  /** Who sent it, by User-Agent: docker/buildkit/containerd or our client (node). */
  readonly agent: string;
}

export interface FaultProxy {
  /** host:port of the proxy, to use as a registry. */
  readonly registry: string;
  inject(...rules: FaultRule[]): void;
  /** Drops the rules not yet spent; returns how many injections they had left. */
  clear(): number;
  readonly seen: readonly SeenRequest[];
  /** Called for each request before it is answered (a test can act on one, e.g. kill a process). */
  onRequest(listener: ((request: SeenRequest) => void) | undefined): void;
  stop(): Promise<void>;
}

interface LiveRule {
  readonly rule: FaultRule;
  left: number;
}

const matches = (rule: FaultRule, req: IncomingMessage): boolean => {
  const method = req.method ?? "";
  const path = req.url ?? "";
  if (rule.method !== undefined && (typeof rule.method === "string" ? rule.method !== method : !rule.method.test(method))) return false;
  if (rule.path !== undefined && !rule.path.test(path)) return false;
  // Answers to requests with credentials only: the first, bare one of each client is the registry's challenge.
  if ((rule.fault.kind === "expired-token" || rule.fault.kind === "rewrite") && !req.headers.authorization) return false;
  return true;
};

const hasBody = (req: IncomingMessage): boolean =>
  Number(req.headers["content-length"] ?? 0) > 0 || req.headers["transfer-encoding"] !== undefined;

/** Starts the proxy in front of `upstream` (host:port, plain HTTP, on loopback). */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  // host:port, read as a URL reads it.
  const upstreamUrl = new URL(`http://${upstream}`);
  const [upstreamHost, upstreamPort] = [upstreamUrl.hostname, Number(upstreamUrl.port || 80)];
  if (!/^(127\.|localhost$)/.test(upstreamHost)) throw new Error(`the fault proxy only talks to loopback, not ${upstream}`);
  const rules: LiveRule[] = [];
  const seen: SeenRequest[] = [];
  let listener: ((request: SeenRequest) => void) | undefined;
  const sockets = new Set<Socket>();

  const take = (req: IncomingMessage): Fault | undefined => {
    const live = rules.find((r) => r.left > 0 && matches(r.rule, req));
    if (!live) return undefined;
    live.left--;
    return live.rule.fault;
  };

  /**
   * Passes a request to the registry; `cutAfter` cuts the blob (request or answer) after that many bytes;
   * `rewrite` changes the answer, read whole first.
   */
  const forward = (req: IncomingMessage, res: ServerResponse, cutAfter?: number, rewrite?: (answer: Answer) => Answer) => {
    const cutRequest = cutAfter !== undefined && hasBody(req);
    const upstreamReq = httpRequest(
      // The Host header is kept, so the Locations the registry answers with point at the proxy.
      { host: upstreamHost, port: upstreamPort, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        if (rewrite) {
          const chunks: Buffer[] = [];
          answer.on("data", (chunk: Buffer) => chunks.push(chunk));
          answer.on("end", () => {
            const headers = Object.fromEntries(Object.entries(answer.headers).flatMap(([k, v]) => (typeof v === "string" ? [[k, v]] : [])));
            const changed = rewrite({ status: answer.statusCode ?? 502, headers, body: Buffer.concat(chunks) });
            const body = req.method === "HEAD" ? Buffer.alloc(0) : changed.body;
            const { "transfer-encoding": _chunked, ...kept } = changed.headers;
            res.writeHead(changed.status, { ...kept, "content-length": String(req.method === "HEAD" ? (changed.headers["content-length"] ?? 0) : body.length) });
            res.end(body);
          });
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.statusMessage, answer.rawHeaders);
        if (cutAfter === undefined || cutRequest) {
          answer.pipe(res);
          return;
        }
        let sent = 0;
        answer.on("data", (chunk: Buffer) => {
          if (sent + chunk.length >= cutAfter) {
            res.write(chunk.subarray(0, Math.max(0, cutAfter - sent)));
            answer.destroy();
            res.socket?.destroy();
            return;
          }
          sent += chunk.length;
          res.write(chunk);
        });
        answer.on("end", () => res.end());
      },
    );
    upstreamReq.on("error", () => res.socket?.destroy());
    if (!cutRequest) {
      req.pipe(upstreamReq);
      return;
    }
    let received = 0;
    req.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received < (cutAfter as number)) {
        upstreamReq.write(chunk);
        return;
      }
      // Half a blob reached the registry; then the connection is gone, both ways.
      upstreamReq.destroy();
      req.socket.destroy();
    });
    req.on("end", () => upstreamReq.end());
  };

  const server: Server = createServer((req, res) => {
    const fault = take(req);
    const request: SeenRequest = {
      method: req.method ?? "",
      path: req.url ?? "",
      agent: String(req.headers["user-agent"] ?? ""),
      ...(fault ? { fault: fault.kind } : {}),
    };
    seen.push(request);
    listener?.(request);
    if (!fault) return forward(req, res);
    switch (fault.kind) {
      case "status":
      case "too-many-requests": {
        const status = fault.kind === "status" ? fault.status : 429;
        const headers: Record<string, string> = { "Content-Type": "application/json" };
        if (fault.kind === "too-many-requests") headers["Retry-After"] = String(fault.retryAfterSeconds);
        // Drain what the client sends, then answer (an upload's body is refused whole).
        req.resume();
        req.on("end", () => {
          res.writeHead(status, headers);
          res.end(JSON.stringify({ errors: [{ code: status === 429 ? "TOOMANYREQUESTS" : "UNAVAILABLE", message: "injected by the fault proxy" }] }));
        });
        return;
      }
      case "expired-token":
        req.resume();
        req.on("end", () => {
          res.writeHead(401, { "Content-Type": "application/json", "WWW-Authenticate": 'Basic realm="Registry Realm"' });
          res.end(JSON.stringify({ errors: [{ code: "UNAUTHORIZED", message: "token expired (injected by the fault proxy)" }] }));
        });
        return;
      case "slow":
        req.pause();
        setTimeout(() => {
          req.resume();
          forward(req, res);
        }, fault.delayMs);
        return;
      case "reset-mid-blob":
        return forward(req, res, fault.afterBytes);
      case "rewrite":
        return forward(req, res, undefined, fault.rewrite);
      case "hang":
        req.resume();
        return;
    }
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const port = (server.address() as AddressInfo).port;

  return {
    registry: `127.0.0.1:${port}`,
    inject: (...more) => {
      for (const rule of more) rules.push({ rule, left: rule.times });
    },
    clear: () => {
      const left = rules.reduce((n, r) => n + r.left, 0);
      rules.length = 0;
      return left;
    },
    seen,
    onRequest: (l) => {
      listener = l;
    },
    stop: () =>
      new Promise<void>((ok) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => ok());
      }),
  };
}
