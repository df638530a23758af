import { LIMITS } from './defaults.js';
import { badInput } from './errors.js';
import type { Headers } from './types.js';

const NAME = /^[A-Za-z0-9._-]{1,128}$/;

/** Topic and queue names: they become parts of Redis keys and BullMQ queue names, so no ':' or braces. */
export function assertName(field: string, value: string): void {
  if (!NAME.test(value)) {
    throw badInput(`${field} must be 1 to ${LIMITS.nameLength} characters of A-Z a-z 0-9 . _ -`, { field });
  }
}

export function assertInt(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw badInput(`${field} must be an integer from ${min} to ${max}, got ${value}`, { field });
  }
}

export function assertString(field: string, value: string, max: number = LIMITS.stringField): void {
  if (value.length === 0 || value.length > max) {
    throw badInput(`${field} must be 1 to ${max} characters`, { field });
  }
}

export function assertWebhookUrl(field: string, value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badInput(`${field} must be an absolute http(s) URL`, { field });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw badInput(`${field} must use http or https, got ${url.protocol.replace(':', '')}`, { field });
  }
  if (value.length > LIMITS.urlLength)
    throw badInput(`${field} is longer than ${LIMITS.urlLength}`, { field });
}

/** Message headers: a flat object of string values, as the contract says. */
export function parseHeaders(field: string, value: unknown): Headers {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw badInput(`${field} must be a flat object of string values`, { field });
  }
  const entries = Object.entries(value);
  if (entries.length > LIMITS.headerCount) {
    throw badInput(`${field} may hold at most ${LIMITS.headerCount} entries`, { field });
  }
  const headers: Headers = {};
  for (const [name, headerValue] of entries) {
    if (typeof headerValue !== 'string') {
      throw badInput(
        `${field}.${name} must be a string, got ${headerValue === null ? 'null' : typeof headerValue}`,
        {
          field,
        },
      );
    }
    if (name.length === 0 || name.length > LIMITS.stringField) {
      throw badInput(`${field} names must be 1 to ${LIMITS.stringField} characters`, { field });
    }
    if (headerValue.length > LIMITS.headerValueLength) {
      throw badInput(`${field}.${name} is longer than ${LIMITS.headerValueLength} characters`, { field });
    }
    headers[name] = headerValue;
  }
  return headers;
}
