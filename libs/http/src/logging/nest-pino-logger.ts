import type { LoggerService } from '@nestjs/common';
import type { pino } from 'pino';
import type { Logger } from './logger.js';

const STACK_TRACE = /\n\s+at /;

/**
 * Nest's own logs (bootstrap, route mapping, `new Logger(context)` in providers) as the same JSON
 * lines as the rest of the process. Pass it as the `logger` option of `NestFactory.create`.
 *
 * Nest calls `log(message, ...params, context)` and `error(message, stack?, context)`: the last
 * string parameter becomes `context`, a stack trace becomes `stack`, an Error becomes `err`.
 */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }

  /** Nest's most detailed level, below debug. */
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.write('fatal', message, params);
  }

  private write(level: pino.Level, message: unknown, params: readonly unknown[]): void {
    if (!this.logger.isLevelEnabled(level)) return;
    const rest = [...params];
    const last = rest.at(-1);
    const fields: Record<string, unknown> = {};
    if (typeof last === 'string' && !STACK_TRACE.test(last)) fields['context'] = rest.pop();
    const extra: unknown[] = [];
    for (const param of rest) {
      if (typeof param === 'string' && STACK_TRACE.test(param)) fields['stack'] = param;
      else if (param instanceof Error) fields['err'] = param;
      else if (param !== undefined) extra.push(param);
    }
    if (extra.length > 0) fields['params'] = extra;

    if (message instanceof Error) {
      this.logger[level]({ ...fields, err: message }, message.message);
    } else if (typeof message === 'object' && message !== null) {
      this.logger[level]({ ...(message as Record<string, unknown>), ...fields });
    } else {
      this.logger[level](fields, String(message));
    }
  }
}
