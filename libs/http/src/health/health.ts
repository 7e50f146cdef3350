import type { ServerResponse } from 'node:http';
import { Controller, Get, Inject, Injectable, Logger, Module, Res, type DynamicModule, type ModuleMetadata, type Type } from '@nestjs/common';
import { describeError } from '@realm/errors';

export interface HealthCheckResult {
  readonly ok: boolean;
  /**
   * A short, operator-readable word on the state (`3 of 3 tokens present`). It is served without
   * authentication: never a secret, a connection string or an exception message.
   */
  readonly detail?: string;
}

/** One dependency readiness waits for: the database, the HSM, the audit log. */
export interface HealthIndicator {
  /** The key of this check in the readiness body; unique among the indicators. */
  readonly name: string;
  check(): Promise<HealthCheckResult>;
}

export interface HealthModuleOptions {
  /**
   * Classes are instantiated by Nest, so they can inject what they check; their dependencies must
   * be visible to this module (global modules, or `imports`). Instances are used as they are.
   */
  readonly indicators: ReadonlyArray<Type<HealthIndicator> | HealthIndicator>;
  /** Modules whose exported providers the indicator classes inject. */
  readonly imports?: ModuleMetadata['imports'];
  /** How long one check may take before it counts as failed; 2 000 ms by default. */
  readonly timeoutMs?: number;
}

export interface ReadinessReport {
  readonly status: 'ready' | 'not-ready';
  readonly checks: Readonly<Record<string, HealthCheckResult>>;
}

/** Injection token of the `HealthIndicator[]` readiness runs, in the order given to forRoot. */
export const HEALTH_INDICATORS = Symbol('HEALTH_INDICATORS');
const HEALTH_CHECK_TIMEOUT = Symbol('HEALTH_CHECK_TIMEOUT');
export const DEFAULT_HEALTH_CHECK_TIMEOUT_MS = 2_000;
const MAX_DETAIL_LENGTH = 200;

/** Runs the indicators: all at once, each bounded by the timeout, a throw counting as a failure. */
@Injectable()
export class HealthChecks {
  private readonly log = new Logger('Health');

  constructor(
    @Inject(HEALTH_INDICATORS) private readonly indicators: readonly HealthIndicator[],
    @Inject(HEALTH_CHECK_TIMEOUT) private readonly timeoutMs: number,
  ) {}

  async readiness(): Promise<ReadinessReport> {
    const results = await Promise.all(this.indicators.map(async (indicator) => [indicator.name, await this.run(indicator)] as const));
    return { status: results.every(([, result]) => result.ok) ? 'ready' : 'not-ready', checks: Object.fromEntries(results) };
  }

  private async run(indicator: HealthIndicator): Promise<HealthCheckResult> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timed-out'>((resolve) => {
      timer = setTimeout(() => resolve('timed-out'), this.timeoutMs);
    });
    try {
      const result = await Promise.race([indicator.check(), timedOut]);
      if (result === 'timed-out') {
        this.log.warn(`health check ${indicator.name} did not answer within ${this.timeoutMs} ms`);
        return { ok: false, detail: `no answer within ${this.timeoutMs} ms` };
      }
      const detail = typeof result.detail === 'string' ? result.detail.slice(0, MAX_DETAIL_LENGTH) : undefined;
      return { ok: result.ok === true, ...(detail !== undefined && { detail }) };
    } catch (error) {
      // The exception may name hosts, users or worse: it goes to the log, the client gets a word.
      this.log.error(`health check ${indicator.name} failed: ${describeError(error)}`, error instanceof Error ? error.stack : undefined);
      return { ok: false, detail: 'check failed' };
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * `GET /health/live`: the process serves requests. `GET /health/ready`: every indicator is ok
 * (200 `ready`), or not (503 `not-ready`, RFC 9110 §15.6.4), with each check's result.
 */
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthChecks) {}

  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  async ready(@Res() res: ServerResponse): Promise<void> {
    // Written directly: a 503 thrown as an exception would reach the error filter, which makes 5xx
    // bodies generic, and the checks are the point of this body.
    const report = await this.health.readiness();
    const text = JSON.stringify(report);
    res.statusCode = report.status === 'ready' ? 200 : 503;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.setHeader('Content-Length', Buffer.byteLength(text));
    res.setHeader('Cache-Control', 'no-store');
    res.end(text);
  }
}

@Module({})
export class HealthModule {
  static forRoot(options: HealthModuleOptions): DynamicModule {
    const classes = options.indicators.filter((indicator): indicator is Type<HealthIndicator> => typeof indicator === 'function');
    return {
      module: HealthModule,
      imports: options.imports ?? [],
      controllers: [HealthController],
      providers: [
        ...classes,
        {
          provide: HEALTH_INDICATORS,
          inject: classes,
          useFactory: (...instances: HealthIndicator[]): HealthIndicator[] => {
            let nextInstance = 0;
            const indicators = options.indicators.map((indicator) => (typeof indicator === 'function' ? instances[nextInstance++]! : indicator));
            const names = indicators.map((indicator) => indicator.name);
            const duplicate = names.find((name, index) => names.indexOf(name) !== index);
            if (duplicate !== undefined) throw new Error(`two health indicators are named ${duplicate}: readiness reports them by name`);
            return indicators;
          },
        },
        { provide: HEALTH_CHECK_TIMEOUT, useValue: options.timeoutMs ?? DEFAULT_HEALTH_CHECK_TIMEOUT_MS },
        HealthChecks,
      ],
      exports: [HealthChecks],
    };
  }
}
