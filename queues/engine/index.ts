/**
 * createEngine: the engine as one object, assembled from every folder below it.
 * The folder's public face: other folders import it only through this file.
 */
export { createEngine, type Engine, type EngineOptions } from './engine.js';
