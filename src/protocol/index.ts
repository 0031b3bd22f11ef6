/** The types every side of the wire shares: the daemon, the overlay and control panel
 * (browser build), and plugins. No imports of Node or of any package. */
export * from './events.js';
export * from './api.js';
