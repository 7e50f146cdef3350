import type { ServerResponse } from 'node:http';
import { All, Body, Controller, Delete, Get, Header, HttpCode, Inject, Param, Patch, Post, Put, Query, Req, Res, UseFilters, UseGuards } from '@nestjs/common';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { scimNotFound } from './scim-errors.js';
import { type ScimHttpRequest, ScimBearerGuard, ScimExceptionFilter, requestIdOf } from './scim-http.js';
import { resourceTypes, SCIM_MEDIA_TYPE, schemas, serviceProviderConfig } from './scim-schemas.js';
import { type ScimRequestContext, type ScimResource, ScimService } from './scim.service.js';

/** RFC 7644 §3.4.2 list parameters; any other query parameter (sortBy...) is refused. */
export class ScimListQueryDto {
  @IsOptional() @IsString() @MaxLength(1024) filter?: string;
  @IsOptional() @IsString() @MaxLength(12) startIndex?: string;
  @IsOptional() @IsString() @MaxLength(12) count?: string;
  @IsOptional() @IsString() @MaxLength(1024) attributes?: string;
  @IsOptional() @IsString() @MaxLength(1024) excludedAttributes?: string;
}

/** RFC 7644 §3.4.2.5 on a single resource. */
export class ScimGetQueryDto {
  @IsOptional() @IsString() @MaxLength(1024) attributes?: string;
  @IsOptional() @IsString() @MaxLength(1024) excludedAttributes?: string;
}

/** Public options of the SCIM endpoints: the base URL their `meta.location`s start with. */
export const SCIM_OPTIONS = Symbol('SCIM_OPTIONS');
export interface ScimHttpOptions {
  readonly baseUrl: string;
  readonly bodyLimitBytes: number;
}

const CONTENT_TYPE = `${SCIM_MEDIA_TYPE}; charset=utf-8`;

function contextOf(req: ScimHttpRequest): ScimRequestContext {
  const requestId = requestIdOf(req);
  return { client: req.scimClient!, ...(requestId !== undefined && { requestId }) };
}

function created(res: ServerResponse, resource: ScimResource): ScimResource {
  // RFC 7644 §3.3: 201 with the resource and its URI in Location.
  res.setHeader('Location', String((resource['meta'] as { location: string }).location));
  return resource;
}

/** SCIM 2.0 at /scim/v2 (RFC 7644 §3, §4). Thin: the rules live in {@link ScimService}. */
@Controller('scim/v2')
@UseGuards(ScimBearerGuard)
@UseFilters(ScimExceptionFilter)
export class ScimController {
  constructor(
    @Inject(ScimService) private readonly scim: ScimService,
    @Inject(SCIM_OPTIONS) private readonly options: ScimHttpOptions,
  ) {}

  @Get('ServiceProviderConfig')
  @Header('Content-Type', CONTENT_TYPE)
  serviceProviderConfig() {
    return serviceProviderConfig(this.options.baseUrl, this.options.bodyLimitBytes);
  }

  @Get('ResourceTypes')
  @Header('Content-Type', CONTENT_TYPE)
  resourceTypes() {
    const resources = resourceTypes(this.options.baseUrl);
    return { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: resources.length, startIndex: 1, itemsPerPage: resources.length, Resources: resources };
  }

  @Get('ResourceTypes/:id')
  @Header('Content-Type', CONTENT_TYPE)
  resourceType(@Param('id') id: string) {
    const found = resourceTypes(this.options.baseUrl).find((r) => (r as { id: string }).id === id);
    if (!found) throw scimNotFound(`no ResourceType is named ${JSON.stringify(id.slice(0, 64))}`);
    return found;
  }

  @Get('Schemas')
  @Header('Content-Type', CONTENT_TYPE)
  schemas() {
    const resources = schemas(this.options.baseUrl);
    return { schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'], totalResults: resources.length, startIndex: 1, itemsPerPage: resources.length, Resources: resources };
  }

  @Get('Schemas/:id')
  @Header('Content-Type', CONTENT_TYPE)
  schema(@Param('id') id: string) {
    const found = schemas(this.options.baseUrl).find((s) => (s as { id: string }).id === id);
    if (!found) throw scimNotFound(`no Schema has the id ${JSON.stringify(id.slice(0, 120))}`);
    return found;
  }

  @Get('Users')
  @Header('Content-Type', CONTENT_TYPE)
  listUsers(@Query() query: ScimListQueryDto) {
    return this.scim.listUsers(query);
  }

  @Get('Users/:id')
  @Header('Content-Type', CONTENT_TYPE)
  getUser(@Param('id') id: string, @Query() query: ScimGetQueryDto) {
    return this.scim.getUser(id, query);
  }

  @Post('Users')
  @HttpCode(201)
  @Header('Content-Type', CONTENT_TYPE)
  async createUser(@Body() body: unknown, @Req() req: ScimHttpRequest, @Res({ passthrough: true }) res: ServerResponse) {
    return created(res, await this.scim.createUser(body, contextOf(req)));
  }

  @Put('Users/:id')
  @Header('Content-Type', CONTENT_TYPE)
  replaceUser(@Param('id') id: string, @Body() body: unknown, @Req() req: ScimHttpRequest) {
    return this.scim.replaceUser(id, body, contextOf(req));
  }

  @Patch('Users/:id')
  @Header('Content-Type', CONTENT_TYPE)
  patchUser(@Param('id') id: string, @Body() body: unknown, @Req() req: ScimHttpRequest) {
    return this.scim.patchUser(id, body, contextOf(req));
  }

  @Delete('Users/:id')
  @HttpCode(204)
  deleteUser(@Param('id') id: string, @Req() req: ScimHttpRequest) {
    return this.scim.deleteUser(id, contextOf(req));
  }

  @Get('Groups')
  @Header('Content-Type', CONTENT_TYPE)
  listGroups(@Query() query: ScimListQueryDto) {
    return this.scim.listGroups(query);
  }

  @Get('Groups/:id')
  @Header('Content-Type', CONTENT_TYPE)
  getGroup(@Param('id') id: string, @Query() query: ScimGetQueryDto) {
    return this.scim.getGroup(id, query);
  }

  @Post('Groups')
  @HttpCode(201)
  @Header('Content-Type', CONTENT_TYPE)
  async createGroup(@Body() body: unknown, @Req() req: ScimHttpRequest, @Res({ passthrough: true }) res: ServerResponse) {
    return created(res, await this.scim.createGroup(body, contextOf(req)));
  }

  @Put('Groups/:id')
  @Header('Content-Type', CONTENT_TYPE)
  replaceGroup(@Param('id') id: string, @Body() body: unknown, @Req() req: ScimHttpRequest) {
    return this.scim.replaceGroup(id, body, contextOf(req));
  }

  @Patch('Groups/:id')
  @Header('Content-Type', CONTENT_TYPE)
  patchGroup(@Param('id') id: string, @Body() body: unknown, @Req() req: ScimHttpRequest) {
    return this.scim.patchGroup(id, body, contextOf(req));
  }

  @Delete('Groups/:id')
  @HttpCode(204)
  deleteGroup(@Param('id') id: string, @Req() req: ScimHttpRequest) {
    return this.scim.deleteGroup(id, contextOf(req));
  }

  /** Anything else under /scim/v2 (Bulk, /Me, /.search, unknown resources): a SCIM 404, after authentication. */
  @All('{*rest}')
  unknown(): never {
    throw scimNotFound('no such SCIM endpoint (supported: Users, Groups, ServiceProviderConfig, ResourceTypes, Schemas)');
  }
}
