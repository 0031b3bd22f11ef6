import type { BusEvent, ObsHealth } from '../protocol/index.js';

/** The parts of the daemon's health that only the bus knows (OBS's link, the pause
 * scene, why the source failed), kept for /api/status: a panel that connects late
 * still sees them. */
export class HealthTracker {
  obs: ObsHealth | null;
  pauseScene: string | null = null;
  sourceError: string | null = null;

  constructor(usesObs: boolean) {
    this.obs = usesObs ? { connected: false, reason: 'connecting', programScene: null } : null;
  }

  apply(event: BusEvent): void {
    switch (event.type) {
      case 'obsConnected':
        this.obs = { connected: true, reason: null, programScene: this.obs?.programScene ?? null };
        return;
      case 'obsDisconnected':
        this.obs = { connected: false, reason: event.reason, programScene: this.obs?.programScene ?? null };
        return;
      case 'obsProgramScene':
        if (this.obs) this.obs = { ...this.obs, programScene: event.scene };
        return;
      case 'scenePause':
        this.pauseScene = event.paused ? event.scene : null;
        return;
      case 'sourceStatus':
        this.sourceError = event.state === 'error' ? (event.message ?? 'source error') : null;
        return;
      default:
        return;
    }
  }
}
