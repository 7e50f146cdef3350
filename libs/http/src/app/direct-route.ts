import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Type } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import bodyParser from 'body-parser';
import { type ExpressRequest, type HttpMiddleware, pathOf } from '../http-types.js';
import { httpPlatformOf } from './http-app.js';

/** A JSON POST route answered with JSON text, served ahead of Express by {@link serveJsonPostDirectly}. */
export interface DirectJsonRoute<Dto extends object> {
  /** The path, matched exactly (any query string aside), as the app's Nest route for it is declared. */
  readonly path: string;
  /** The body's DTO, validated as the app's global ValidationPipe validates a `@Body()` of this type. */
  readonly dto: Type<Dto>;
  /** Answers a valid body with the JSON text of a 200; what it throws is answered like any route's error. */
  handle(body: Dto): Promise<string>;
}

/**
 * Serves `POST route.path` on the app's HTTP server before Express sees the request: the same
 * request logging, metrics, security headers, no-store, body parsers (body-parser with
 * http.bodyLimitBytes), ValidationPipe and error answers as every Nest route of the app, called
 * directly instead of through Express's router and Nest's route pipeline.
 *
 * For the one route on the hot path of every client (the KMS message endpoint): there, for a
 * batch of 50 messages, the router, the pipeline around the handler and the response helpers
 * cost more than the platform's own work (measured with the KMS bench: about 20 µs of a worker's
 * CPU per message). The app keeps its Nest route for the same path: requests this does not take
 * (another method, or the path in another spelling Express also matches, such as a trailing
 * slash) go on to Express unchanged. The route must have no guards or interceptors of its own:
 * none run here. Call it after createHttpsApp and before listen.
 */
export function serveJsonPostDirectly<Dto extends object>(app: NestExpressApplication, route: DirectJsonRoute<Dto>): void {
  const platform = httpPlatformOf(app);
  // The same parsers as the app's (configureHttpApp), so limits, charsets, encodings and their errors are the same.
  const parsers = [bodyParser.json(platform.bodyParsers.json), bodyParser.urlencoded(platform.bodyParsers.urlencoded)] as HttpMiddleware[];
  const steps: readonly HttpMiddleware[] = [...platform.middleware, ...parsers];
  // Errors of the body parser become the HttpExceptions Nest makes of them for its own routes.
  const adapter = app.get(HttpAdapterHost).httpAdapter;
  const fail = (error: unknown, req: IncomingMessage, res: ServerResponse) => platform.errors.respond(adapter.mapException(error), req, res);

  const answer = async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const body = (await platform.validation.transform((req as { body?: unknown }).body, { type: 'body', metatype: route.dto })) as Dto;
      const text = await route.handle(body);
      res.statusCode = 200;
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.setHeader('Content-Length', Buffer.byteLength(text));
      res.end(text);
    } catch (error) {
      fail(error, req, res);
    }
  };

  const server = app.getHttpServer();
  const express = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST' || pathOf(req) !== route.path) {
      for (const listener of express) listener.call(server, req, res);
      return;
    }
    // Express sets the matched route on the request; metrics label the request with it.
    (req as { route?: ExpressRequest['route'] }).route = { path: route.path };
    let step = 0;
    const next = (error?: unknown) => {
      if (error !== undefined) return fail(error, req, res);
      const middleware = steps[step++];
      if (middleware === undefined) return void answer(req, res);
      try {
        middleware(req, res, next);
      } catch (thrown) {
        fail(thrown, req, res);
      }
    };
    next();
  });
}
