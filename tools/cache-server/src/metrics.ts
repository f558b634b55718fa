/**
 * The cache server's /metrics (Prometheus text, prom-client): hits, misses,
 * bytes served and stored, and every request by method and status, so an
 * alert can see writes being refused (docs/monitoring/alerts.yml).
 */
import { Counter, Registry } from "prom-client";

export interface CacheMetrics {
  readonly contentType: string;
  hit(bytes: number): void;
  miss(): void;
  stored(bytes: number): void;
  answered(method: string, status: number): void;
  text(): Promise<string>;
}

export function cacheMetrics(): CacheMetrics {
  const registry = new Registry();
  const hits = new Counter({ name: "nx_cache_hits_total", help: "Reads (GET and HEAD) that found their artifact", registers: [registry] });
  const misses = new Counter({ name: "nx_cache_misses_total", help: "Reads (GET and HEAD) that found no artifact", registers: [registry] });
  const read = new Counter({ name: "nx_cache_read_bytes_total", help: "Bytes of artifacts found by reads", registers: [registry] });
  const written = new Counter({ name: "nx_cache_stored_bytes_total", help: "Bytes of artifacts stored", registers: [registry] });
  const requests = new Counter({ name: "nx_cache_requests_total", help: "Requests answered, by method and status", labelNames: ["method", "status"], registers: [registry] });
  // Present from the start, so a rate over them exists before the first request of each kind.
  for (const method of ["GET", "HEAD", "PUT", "DELETE"]) requests.inc({ method, status: "200" }, 0);
  return {
    contentType: registry.contentType,
    hit: (bytes) => (hits.inc(), read.inc(bytes)),
    miss: () => misses.inc(),
    stored: (bytes) => written.inc(bytes),
    answered: (method, status) => requests.inc({ method: ["GET", "HEAD", "PUT", "DELETE"].includes(method) ? method : "other", status: String(status) }),
    text: () => registry.metrics(),
  };
}
