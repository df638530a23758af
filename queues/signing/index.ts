/**
 * Standard Webhooks signatures and the rotation of a queue's signing secrets.
 * The folder's public face: other folders import it only through this file.
 */
export { activeSigningSecrets, rotateSecrets } from './secrets.js';
export { generateSigningSecret, webhookHeaders } from './webhook-signing.js';
