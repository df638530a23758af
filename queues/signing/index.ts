export { activeSigningSecrets, rotateSecrets } from './secrets.js';
export { generateSigningSecret, webhookHeaders } from './webhook-signing.js';
