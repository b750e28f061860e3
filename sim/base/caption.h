/*
 * Captions: one line of story text a demo shows over the meter's faces
 * (the scenario's caption()). Whoever tells the story calls caption_show;
 * each face that draws captions (the terminal's caption bar, the web
 * face's event stream) watches. The text is also logged ("caption: ...").
 * Data flows one way: the teller knows no face, a face knows no teller.
 */
#ifndef SIM_CAPTION_H
#define SIM_CAPTION_H

#define CAPTION_MAX 256         /* bytes kept of a caption, with the NUL */
#define CAPTION_WATCHERS 4

typedef void caption_fn(void *ctx, const char *text);

/* Show text (cut to CAPTION_MAX - 1 bytes, control characters as
 * spaces) on every face that watches; "" clears the caption. */
void caption_show(const char *text);

/* The caption shown now ("" for none): for a face that comes up later. */
const char *caption_current(void);

/* fn hears every caption from now on; -1 when every slot is taken. */
int caption_watch(caption_fn *fn, void *ctx);
void caption_unwatch(caption_fn *fn, void *ctx);

#endif
