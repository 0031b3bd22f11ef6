"""Contact sheet of a match: each cell shows the 256 px render (left) and the
128x128 frame the model actually gets (right, decoded from the mp4 with the
runtime's ffmpeg command, blown up 2x with nearest neighbour so its pixels
can be inspected).

    cd scripts && python3 -m arena.preview SEED [OUT.png]
"""
import os
import sys
import tempfile

from PIL import Image, ImageDraw

from .dataset import RENDER_FPS, RENDER_SIZE, decode_frames
from .render import Renderer, render_match
from .world import decoded_frame_time, first_frame_showing, simulate_match


def interesting_times(match, n=12):
    """Kickoff, first goal/replay/save/miss, the cards, and some open play."""
    want = []
    firsts = {}
    for e in match.events:
        firsts.setdefault(e["type"], e)
    for typ, dt in (("kickoff", 0.5), ("goal", 0.5), ("goal", 1.5), ("replay", 1.0),
                    ("save", 0.0), ("miss", 0.0), ("halftime", 2.0), ("fulltime", 2.0)):
        if typ in firsts:
            want.append(firsts[typ]["t"] + dt)
    for t in (20.0, 60.0, 120.0, 150.0):
        want.append(t)
    # Snap to decoded frames so both halves of a cell show the same instant.
    frames = sorted({first_frame_showing(t) for t in want if t < match.duration - 0.5})
    return frames[:n]


def contact_sheet(seed, out_png):
    match = simulate_match(seed)
    r = Renderer(match, (RENDER_SIZE, RENDER_SIZE))
    with tempfile.TemporaryDirectory() as td:
        mp4 = os.path.join(td, "m.mp4")
        render_match(match, mp4, RENDER_FPS, (RENDER_SIZE, RENDER_SIZE))
        dec = decode_frames(mp4, 2, 128)
    frames = interesting_times(match)
    cw, ch, cols = 2 * RENDER_SIZE + 8, RENDER_SIZE + 14, 2
    rows = (len(frames) + cols - 1) // cols
    sheet = Image.new("RGB", (cols * cw + 8, rows * ch + 8), (90, 90, 90))
    draw = ImageDraw.Draw(sheet)
    for k, i in enumerate(frames):
        x, y = 8 + (k % cols) * cw, 4 + (k // cols) * ch
        t = decoded_frame_time(i)
        st = match.state_at(t)
        label = f"frame {i} t={t:.1f}s {st.phase} {st.score[0]}-{st.score[1]} {st.clock_text}"
        draw.text((x, y), label, fill=(255, 255, 255))
        sheet.paste(Image.fromarray(r.frame(t)), (x, y + 12))
        small = dec[i]
        sheet.paste(Image.fromarray(small).resize((256, 256), Image.NEAREST),
                    (x + RENDER_SIZE + 4, y + 12))
    sheet.save(out_png)
    t0, t1 = match.teams
    print(f"{out_png}: {t0['name']} ({t0['colour']}) vs {t1['name']} ({t1['colour']}), "
          f"{len(dec)} decoded frames")


if __name__ == "__main__":
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    out = sys.argv[2] if len(sys.argv) > 2 else f"/tmp/arena_preview_{seed}.png"
    contact_sheet(seed, out)
