import { Ajv, type ValidateFunction } from 'ajv';
import type { TopicRecord } from '../core/index.js';
import { badInput, ErrorCode, SwitchyardError } from '../core/index.js';

/** Compiles each topic's JSON Schema once and checks payloads against it. */
export function createPayloadSchemas() {
  const ajv = new Ajv({ allErrors: false, strict: false });
  const compiled = new Map<string, { createdAt: string; validate: ValidateFunction }>();

  function compile(schema: unknown): ValidateFunction {
    if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
      throw badInput('payloadSchema must be a JSON Schema object', { field: 'payloadSchema' });
    }
    try {
      return ajv.compile(schema);
    } catch (error) {
      throw badInput(`payloadSchema is not a valid JSON Schema: ${(error as Error).message}`, {
        field: 'payloadSchema',
      });
    }
  }

  return {
    /** Throws BAD_USER_INPUT when a schema itself is broken, so a topic is never created with one. */
    check(schema: unknown): void {
      compile(schema);
    },
    /** Throws VALIDATION, naming the failing path, when the payload does not satisfy the topic's schema. */
    assertValid(topic: TopicRecord, payload: unknown): void {
      if (topic.payloadSchema === null) return;
      let entry = compiled.get(topic.name);
      if (!entry || entry.createdAt !== topic.createdAt) {
        entry = { createdAt: topic.createdAt, validate: compile(topic.payloadSchema) };
        compiled.set(topic.name, entry);
      }
      if (entry.validate(payload)) return;
      const first = entry.validate.errors?.[0];
      const path = `payload${first?.instancePath ?? ''}`;
      throw new SwitchyardError(
        ErrorCode.Validation,
        `${path} ${first?.message ?? 'does not match the topic schema'}`,
        { path, keyword: first?.keyword },
      );
    },
  };
}

export type PayloadSchemas = ReturnType<typeof createPayloadSchemas>;
