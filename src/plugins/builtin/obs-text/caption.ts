import type { BusEvent } from '../../../plugin-api/index.js';

/** The caption a viewer should see, from the bus's events: the line being spoken grows
 * with each delta and is replaced by the final text; pausing clears it. */
export class Caption {
  text = '';

  /** Returns true when the text changed. */
  apply(event: BusEvent): boolean {
    const before = this.text;
    switch (event.type) {
      case 'speechStart':
        this.text = '';
        break;
      case 'speechDelta':
        this.text += event.text;
        break;
      case 'say':
        this.text = event.text.trim();
        break;
      case 'paused':
        this.text = '';
        break;
      default:
        return false;
    }
    return this.text !== before;
  }
}
