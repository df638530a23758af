/**
 * The audit log: who changed what, when, and how it went. A Redis stream capped by length and by
 * age, so it never grows without bound; entries hold arguments with secrets and payloads taken out.
 */

import { DAY } from '../core/index.js';
import type { Keys, RedisClient } from '../redis/index.js';

/** One audited operation. */
export interface AuditEntry {
  /** The stream entry id; entries sort by it. */
  id: string;
  at: string;
  /** The API key that asked; `admin` for SWITCHYARD_ADMIN_KEY, null for a loopback caller without a key. */
  keyId: string | null;
  keyName: string | null;
  /** The root field of the mutation, e.g. `createQueue`. */
  operation: string;
  /** The field's arguments, with secrets redacted and payloads omitted (see {@link redactArguments}). */
  arguments: unknown;
  /** `OK`, or the error code it was refused with (`INTERNAL` for an unexpected error). */
  outcome: string;
  /** The refusal's message, or null. */
  error: string | null;
}

export type AuditRecord = Omit<AuditEntry, 'id' | 'at'>;

export interface AuditLogOptions {
  client: RedisClient;
  keys: Keys;
  /**
   * How many entries are kept at most (trimmed approximately, so a few more may stay for a while).
   * @default 100000
   */
  maxEntries?: number;
  /**
   * How long an entry is kept, in ms.
   * @default 7776000000 (90 days)
   */
  retentionMs?: number;
}

/** The most entries one read answers. */
export const MAX_AUDIT_PAGE = 500;
/** Arguments are cut to about this much JSON: an audit entry says what was done, not every byte of it. */
const MAX_ARGUMENT_CHARS = 8 * 1024;

const SECRET_NAME = /secret|password|token|authorization|api[-_]?key|credential|cookie/i;
/** Payloads are data, not configuration: they may hold personal data and can be large. */
const OMITTED_NAME = /^payload$/i;

/**
 * Arguments fit for the audit log: values under secret-sounding names become `[redacted]`, payloads
 * become `[omitted]`, and URLs keep only their origin (a webhook URL's path or query is often its
 * credential, as with Slack's). Too large a result is replaced by a note of its size.
 */
export function redactArguments(args: unknown): unknown {
  const redacted = redactValue(args, 0);
  const json = JSON.stringify(redacted) ?? 'null';
  return json.length > MAX_ARGUMENT_CHARS ? { truncated: true, chars: json.length } : redacted;
}

function redactValue(value: unknown, depth: number): unknown {
  if (depth > 8) return '[nested too deep]';
  if (Array.isArray(value)) return value.slice(0, 100).map((item) => redactValue(item, depth + 1));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [name, inner] of Object.entries(value)) {
    if (SECRET_NAME.test(name)) out[name] = '[redacted]';
    else if (OMITTED_NAME.test(name)) out[name] = '[omitted]';
    else if (/url$/i.test(name) && typeof inner === 'string') out[name] = originOnly(inner);
    else out[name] = redactValue(inner, depth + 1);
  }
  return out;
}

function originOnly(raw: string): string {
  if (!URL.canParse(raw)) return '[unparseable URL]';
  const url = new URL(raw);
  const rest = url.pathname !== '/' || url.search !== '' || url.hash !== '';
  return `${url.origin}${rest ? '/…' : ''}`;
}

export function createAuditLog(options: AuditLogOptions) {
  const { client, keys } = options;
  const maxEntries = options.maxEntries ?? 100_000;
  const retentionMs = options.retentionMs ?? 90 * DAY;

  return {
    /** Appends an entry (arguments already redacted by the caller or not: they are redacted here). */
    async record(entry: AuditRecord): Promise<void> {
      const now = Date.now();
      const json = JSON.stringify({ ...entry, arguments: redactArguments(entry.arguments) });
      const answers = await client
        .pipeline()
        .xadd(keys.auditLog, 'MAXLEN', '~', maxEntries, '*', 'entry', json)
        // Stream ids start with their time in ms, so trimming by MINID drops everything too old.
        .xtrim(keys.auditLog, 'MINID', '~', now - retentionMs)
        .exec();
      for (const [error] of answers ?? []) if (error) throw error;
    },

    /** The newest entries first, at most `first` (capped at {@link MAX_AUDIT_PAGE}). */
    async list(first = 50): Promise<AuditEntry[]> {
      const count = Math.max(0, Math.min(Math.trunc(first), MAX_AUDIT_PAGE));
      if (count === 0) return [];
      const rows = await client.xrevrange(keys.auditLog, '+', '-', 'COUNT', count);
      return rows.flatMap(([id, fields]) => {
        const at = fields.indexOf('entry');
        const json = at >= 0 ? fields[at + 1] : undefined;
        if (json === undefined) return [];
        const record = JSON.parse(json) as AuditRecord;
        return [{ id, at: new Date(Number(id.split('-')[0])).toISOString(), ...record }];
      });
    },
  };
}

export type AuditLog = ReturnType<typeof createAuditLog>;
