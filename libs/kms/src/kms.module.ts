import { type DynamicModule, Module } from '@nestjs/common';
import { KmsController } from './kms.controller.js';
import type { KmsRuntime } from './kms-runtime.js';
import { KmsService } from './kms.service.js';

/** The KMS bounded context over HTTP. */
@Module({})
export class KmsModule {
  static forRoot(runtime: KmsRuntime): DynamicModule {
    return { module: KmsModule, controllers: [KmsController], providers: [{ provide: KmsService, useValue: runtime.service }], exports: [KmsService] };
  }
}
