import type { BusEvent } from '../../../src/protocol/index.ts';

export interface QuestionView {
  asker?: string;
  text: string;
}

export interface Caption {
  id: number;
  text: string;
  /** The engine's `say` arrived: the line is complete and its display time runs. */
  final: boolean;
  fading: boolean;
  question?: QuestionView;
}

export interface Board {
  captions: Caption[];
  /** Questions being answered, by id, until their answer starts. */
  questions: Record<string, QuestionView>;
  nextId: number;
}

export const newBoard = (): Board => ({ captions: [], questions: {}, nextId: 1 });

const open = (board: Board) => board.captions.findLast((c) => !c.final);

/** Applies one engine event. Returns the caption that just became final (its fade
 * timer starts now), if any. Mutates: the board is Svelte state. */
export function applyEvent(board: Board, event: BusEvent, maxLines: number): Caption | undefined {
  switch (event.type) {
    case 'question':
      board.questions[event.id] = { text: event.text, ...(event.asker ? { asker: event.asker } : {}) };
      return undefined;
    case 'speechStart': {
      const question = event.questionId ? board.questions[event.questionId] : undefined;
      if (event.questionId) delete board.questions[event.questionId];
      board.captions.push({ id: board.nextId++, text: '', final: false, fading: false, ...(question ? { question } : {}) });
      if (board.captions.length > maxLines) board.captions.splice(0, board.captions.length - maxLines);
      return undefined;
    }
    case 'speechDelta': {
      const caption = open(board);
      if (caption) caption.text += event.text;
      return undefined;
    }
    case 'say': {
      let caption = open(board);
      if (!caption) {
        // Connected mid-line: show the finished line on its own.
        caption = { id: board.nextId++, text: '', final: false, fading: false };
        board.captions.push(caption);
      }
      caption.text = event.text;
      caption.final = true;
      if (!caption.text) board.captions.splice(board.captions.indexOf(caption), 1);
      return caption.text ? caption : undefined;
    }
    default:
      return undefined;
  }
}

export function removeCaption(board: Board, id: number): void {
  const i = board.captions.findIndex((c) => c.id === id);
  if (i >= 0) board.captions.splice(i, 1);
}
