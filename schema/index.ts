import { builder } from './builder.js';
import './scalars.js';
import './enums.js';
import './topic.js';
import './queue.js';
import './message.js';
import './publish.js';
import './delivery.js';
import './dead-letter.js';
import './delivery-events.js';
import './stats.js';
import './circuit.js';
import './alert.js';
import './health.js';
import './api-key.js';
import './audit-log.js';

// Unsorted: fields and arguments keep the order the type files give them, which follows API.graphql.
export const schema = builder.toSchema({ sortSchema: false });
