import type { AuditEntry as AuditEntryRecord } from '../queues/security/index.js';
import { auditLog } from '../resolvers/audit-log.js';
import { builder } from './builder.js';

const AuditEntry = builder.objectRef<AuditEntryRecord>('AuditEntry').implement({
  description: 'One admin mutation, as the audit log keeps it (capped by length and age).',
  fields: (t) => ({
    id: t.exposeID('id'),
    at: t.expose('at', { type: 'DateTime' }),
    keyId: t.exposeString('keyId', {
      nullable: true,
      description: '"admin" for SWITCHYARD_ADMIN_KEY; null for a loopback caller without a key.',
    }),
    keyName: t.exposeString('keyName', { nullable: true }),
    operation: t.exposeString('operation', { description: 'The mutation, e.g. "createQueue".' }),
    arguments: t.expose('arguments', {
      type: 'JSON',
      nullable: true,
      description: 'Its arguments: secrets redacted, payloads omitted, URLs cut to their origin.',
    }),
    outcome: t.exposeString('outcome', { description: '"OK" or the error code it was refused with.' }),
    error: t.exposeString('error', { nullable: true }),
  }),
});

builder.queryField('auditLog', (t) =>
  t.withAuth({ admin: true }).field({
    type: [AuditEntry],
    description: 'Admin only. The newest entries first, at most 500.',
    args: { first: t.arg.int({ defaultValue: 50 }) },
    resolve: (_root, args, ctx) => auditLog(args, ctx),
  }),
);
