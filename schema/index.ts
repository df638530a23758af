import { builder } from './builder.js';
import './scalars.js';
import './enums.js';
import './topic.js';
import './queue.js';
import './message.js';
import './trail.js';
import './publish.js';
import './request-reply.js';
import './delivery.js';
import './dead-letter.js';
import './delivery-events.js';
import './stats.js';
import './topic-history.js';
import './circuit.js';
import './alert.js';
import './page-info.js';
import './health.js';
import './api-key.js';
import './audit-log.js';

// Unsorted: fields and arguments keep the order the type files give them, which follows API.graphql.
export const schema = builder.toSchema({ sortSchema: false });
