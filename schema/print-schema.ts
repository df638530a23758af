import { writeFile } from 'node:fs/promises';
import { printSchema } from 'graphql';
import { schema } from './index.js';

/** Writes schema.graphql at the repository root; the contract test fails when it is out of date. */
const target = new URL('../schema.graphql', import.meta.url);
await writeFile(target, `${printSchema(schema)}\n`);
console.log(`wrote ${target.pathname}`);
