import type { AuditEntry as AuditEntryRecord } from '../queues/security/index.js';
import { auditLog } from '../resolvers/audit-log.js';
import { builder } from './builder.js';

const AuditEntry = builder.objectRef<AuditEntryRecord>('AuditEntry').implement({
  description: 'One admin mutation, as the audit log keeps it (capped by length and age).',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Unique, in the order entries were written.' }),
    at: t.expose('at', { type: 'DateTime', description: 'When the mutation ran.' }),
    keyId: t.exposeString('keyId', {
      nullable: true,
      description: '"admin" for SWITCHYARD_ADMIN_KEY; null for a loopback caller without a key.',
    }),
    keyName: t.exposeString('keyName', {
      nullable: true,
      description:
        "The API key's name (SWITCHYARD_ADMIN_KEY for the admin key); null for a loopback caller without a key.",
    }),
    operation: t.exposeString('operation', { description: 'The mutation, e.g. "createQueue".' }),
    arguments: t.expose('arguments', {
      type: 'JSON',
      nullable: true,
      description: 'Its arguments: secrets redacted, payloads omitted, URLs cut to their origin.',
    }),
    outcome: t.exposeString('outcome', { description: '"OK" or the error code it was refused with.' }),
    error: t.exposeString('error', {
      nullable: true,
      description: 'Why it was refused; null when it succeeded.',
    }),
  }),
});

builder.queryField('auditLog', (t) =>
  t.withAuth({ admin: true }).field({
    type: [AuditEntry],
    description:
      'Admin only. The newest entries first. Kept at most SWITCHYARD_AUDIT_MAX_ENTRIES (default 100000) and ' +
      'SWITCHYARD_AUDIT_RETENTION_MS (default 90 days).',
    args: {
      first: t.arg.int({ defaultValue: 50, description: 'How many entries; more than 500 answers 500.' }),
    },
    resolve: (_root, args, ctx) => auditLog(args, ctx),
  }),
);
