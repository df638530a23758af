/**
 * API keys and the audit log (admins only; the nav offers the page to admin keys alone). A new key's
 * secret is answered once: it is shown here once, and gone when the page changes.
 */
import {
  DashboardApiKeysDocument,
  type DashboardApiKeysQuery,
  DashboardAuditLogDocument,
  type DashboardAuditLogQuery,
  DashboardCreateApiKeyDocument,
  DashboardRevokeApiKeyDocument,
} from '../../client/generated/graphql.js';
import { button, formatTime, h, replaceChildren, table } from './dom.js';
import { request } from './gateway.js';
import { reported, showStatus } from './status.js';

const AUDIT_ENTRIES = 100;

type Key = DashboardApiKeysQuery['apiKeys'][number];
type AuditEntry = DashboardAuditLogQuery['auditLog'][number];

const SCOPES_HELP =
  'Scopes separated by spaces or commas: admin, stats, publish:<pattern>, consume:<pattern>, subscribe:<pattern>, ' +
  'deadletters:read:<pattern>, deadletters:write:<pattern> (patterns as topic bindings: * one word, # any).';

function createForm(): HTMLFormElement {
  const scopes = h('input', {
    name: 'scopes',
    required: true,
    autocomplete: 'off',
    placeholder: 'publish:orders.* stats',
    'aria-describedby': 'scopes-help',
  });
  return h(
    'form',
    { class: 'filter', 'aria-label': 'Create an API key' },
    h('label', {}, 'name', h('input', { name: 'name', required: true, autocomplete: 'off' })),
    h('label', {}, 'scopes', scopes),
    h('button', { type: 'submit' }, 'Create key'),
  );
}

/** The new key's name and scopes, as the form holds them. */
function readForm(form: HTMLFormElement): { name: string; scopes: string[] } {
  const data = new FormData(form);
  const text = (field: string) => {
    const value = data.get(field);
    return typeof value === 'string' ? value : '';
  };
  return {
    name: text('name').trim(),
    scopes: text('scopes')
      .split(/[\s,]+/)
      .filter(Boolean),
  };
}

function keyRow(key: Key, revoke: (key: Key) => Promise<void>) {
  return [
    key.name,
    h('code', { 'data-key-id': key.id }, key.id),
    key.scopes.join(' '),
    formatTime(key.createdAt),
    key.lastUsedAt ? formatTime(key.lastUsedAt) : 'never',
    button('Revoke', () => revoke(key), {
      'data-action': 'revoke',
      'aria-label': `Revoke ${key.name}`,
    }),
  ];
}

function auditRow(entry: AuditEntry) {
  return [
    formatTime(entry.at),
    entry.keyName ?? entry.keyId ?? 'loopback, no key',
    entry.operation,
    h('code', {}, entry.arguments === null ? '' : JSON.stringify(entry.arguments)),
    entry.outcome === 'OK' ? 'OK' : `${entry.outcome}${entry.error ? `: ${entry.error}` : ''}`,
  ];
}

/** The secret of a key just created: shown once, as the gateway answers it once. */
function secretNotice(name: string, secret: string): HTMLElement {
  return h(
    'div',
    { class: 'once', role: 'alert' },
    h('strong', {}, `The secret of ${name}, shown this once: `),
    h('code', { 'data-new-secret': '' }, secret),
    h('p', {}, 'Copy it now into your secret store: Switchyard keeps only its hash.'),
  );
}

class KeysView {
  readonly form = createForm();
  readonly secret = h('div', { 'data-secret': '' });
  readonly keys = h('section', { 'aria-label': 'API keys' });
  readonly audit = h('section', { 'aria-label': 'Audit log' });

  async loadKeys(): Promise<void> {
    const { apiKeys } = await request(DashboardApiKeysDocument);
    replaceChildren(
      this.keys,
      h('h2', {}, 'API keys'),
      table(
        ['name', 'id', 'scopes', 'created', 'last used', ''],
        apiKeys,
        (key) => keyRow(key, (chosen) => this.revoke(chosen)),
        'No API keys yet.',
      ),
    );
  }

  async loadAudit(): Promise<void> {
    const { auditLog } = await request(DashboardAuditLogDocument, { first: AUDIT_ENTRIES });
    replaceChildren(
      this.audit,
      h(
        'h2',
        {},
        'Audit log ',
        button('Refresh', () => reported(() => this.loadAudit()), { class: 'small' }),
      ),
      table(['at', 'key', 'operation', 'arguments', 'outcome'], auditLog, auditRow, 'Nothing audited yet.'),
    );
  }

  readonly loadAll = () => Promise.all([this.loadKeys(), this.loadAudit()]).then(() => {});

  revoke(key: Key): Promise<void> {
    return reported(async () => {
      if (!confirm(`Revoke the key ${key.name} (${key.id})? Its requests fail from now on.`)) return;
      const { revokeApiKey } = await request(DashboardRevokeApiKeyDocument, { id: key.id });
      showStatus(revokeApiKey ? `Revoked ${key.name}` : `${key.name} was already gone`);
      await this.loadAll();
    });
  }

  create(): Promise<void> {
    return reported(async () => {
      const { createApiKey } = await request(DashboardCreateApiKeyDocument, readForm(this.form));
      replaceChildren(this.secret, secretNotice(createApiKey.key.name, createApiKey.secret));
      this.form.reset();
      showStatus(`Created key ${createApiKey.key.name} (${createApiKey.key.id})`);
      await this.loadAll();
    });
  }
}

export function mountKeys(root: HTMLElement): () => void {
  const view = new KeysView();
  view.form.addEventListener('submit', (event) => {
    event.preventDefault();
    void view.create();
  });
  const help = h('p', { id: 'scopes-help', class: 'muted' }, SCOPES_HELP);
  replaceChildren(root, h('h2', {}, 'New API key'), view.form, help, view.secret, view.keys, view.audit);
  void reported(view.loadAll);
  return () => {};
}
