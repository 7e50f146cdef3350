import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ExpressRequest, HttpMiddleware } from '../http-types.js';

/** Every metric of the appliance starts with this, so its series never collide with an exporter's. */
export const METRIC_PREFIX = 'realm_';
const METRIC_NAME = /^realm_[a-zA-Z0-9_:]+$/;

type HttpLabel = 'method' | 'route' | 'status';
type MetricKind = 'counter' | 'gauge' | 'histogram';
interface RegisteredMetric {
  readonly kind: MetricKind;
  readonly labelNames: readonly string[];
  readonly metric: Counter<string> | Gauge<string> | Histogram<string>;
}

/**
 * The appliance's Prometheus metrics, in a registry of their own: nothing a dependency registers in
 * prom-client's global registry is exposed, and tests can create as many as they like.
 *
 * Holds the default process metrics (`realm_process_*`, `realm_nodejs_*`) and the HTTP metrics
 * recorded by {@link httpMetrics}; other modules add theirs with {@link counter}, {@link gauge} and
 * {@link histogram}, which return the existing metric when called again with the same name, so a
 * provider can ask for its metrics in its constructor.
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequestsTotal: Counter<HttpLabel>;
  readonly httpRequestDurationSeconds: Histogram<HttpLabel>;
  readonly #metrics = new Map<string, RegisteredMetric>();

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
    const labels: HttpLabel[] = ['method', 'route', 'status'];
    this.httpRequestsTotal = this.counter('realm_http_requests_total', 'HTTP requests answered, by route pattern', labels);
    this.httpRequestDurationSeconds = this.histogram('realm_http_request_duration_seconds', 'Time from receiving an HTTP request to finishing its response', labels);
  }

  /** The Content-Type of {@link exposition}: the Prometheus text format 0.0.4. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in the text exposition format. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  counter<Label extends string = never>(name: string, help: string, labelNames: readonly Label[] = []): Counter<Label> {
    return this.register('counter', name, labelNames, () => new Counter<Label>({ name, help, labelNames, registers: [this.registry] })) as Counter<Label>;
  }

  gauge<Label extends string = never>(name: string, help: string, labelNames: readonly Label[] = []): Gauge<Label> {
    return this.register('gauge', name, labelNames, () => new Gauge<Label>({ name, help, labelNames, registers: [this.registry] })) as Gauge<Label>;
  }

  /** `buckets` are upper bounds in the metric's unit; the default suits request latencies in seconds. */
  histogram<Label extends string = never>(name: string, help: string, labelNames: readonly Label[] = [], buckets?: readonly number[]): Histogram<Label> {
    return this.register('histogram', name, labelNames, () =>
      new Histogram<Label>({ name, help, labelNames, registers: [this.registry], ...(buckets !== undefined && { buckets: [...buckets] }) }),
    ) as Histogram<Label>;
  }

  private register(kind: MetricKind, name: string, labelNames: readonly string[], create: () => RegisteredMetric['metric']): RegisteredMetric['metric'] {
    if (!METRIC_NAME.test(name)) throw new Error(`metric name ${name} must start with ${METRIC_PREFIX} and contain only letters, digits, _ and :`);
    const existing = this.#metrics.get(name);
    if (existing !== undefined) {
      if (existing.kind !== kind || existing.labelNames.join(',') !== labelNames.join(',')) {
        throw new Error(`metric ${name} is already registered as a ${existing.kind} with labels [${existing.labelNames.join(', ')}]`);
      }
      return existing.metric;
    }
    const metric = create();
    this.#metrics.set(name, { kind, labelNames: [...labelNames], metric });
    return metric;
  }
}

/**
 * Records `realm_http_requests_total` and `realm_http_request_duration_seconds` for every request.
 * The `route` label is the pattern that matched (`/keys/:id`), or `unmatched`: never the URL, whose
 * ids and typos would create a series per request. A response the client abandoned is counted with
 * status `aborted`.
 */
export function httpMetrics(metrics: Metrics): HttpMiddleware {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    let recorded = false;
    const record = () => {
      if (recorded) return;
      recorded = true;
      const labels = { method: req.method ?? 'UNKNOWN', route: routeLabelOf(req as ExpressRequest), status: res.writableFinished ? String(res.statusCode) : 'aborted' };
      metrics.httpRequestsTotal.inc(labels);
      metrics.httpRequestDurationSeconds.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
    };
    res.once('finish', record);
    res.once('close', record);
    next();
  };
}

/** The matched route pattern: Express keeps the matched route on the request after routing. */
function routeLabelOf(req: ExpressRequest): string {
  const pattern = req.route?.path;
  return typeof pattern === 'string' ? `${req.baseUrl ?? ''}${pattern}` : 'unmatched';
}
