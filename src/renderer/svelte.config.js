// The renderer is built with root src/renderer; share the project's Svelte config.
export { default } from '../../svelte.config.js';
