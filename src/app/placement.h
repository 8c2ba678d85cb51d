/* placement.h - which media worker a session goes to.
 *
 * A WHIP stream and a room each have a home worker, from a hash of the name: stable across
 * restarts and the same on every thread. Publishers always go home, so a stream's or a
 * room's tracks all start there. Subscribers go home too, until the stream or room itself
 * has more than spread_threshold downtracks there (it is bigger than a core's fair share);
 * then to the least-loaded worker, which mirrors the tracks it needs from home (engine.h).
 * A small room never spreads, however busy its home: a mirror would cost every packet a
 * hand-off and the room a second RTX history for a few copies moved. Pure functions.
 */
#ifndef J_APP_PLACEMENT_H
#define J_APP_PLACEMENT_H

#include <stddef.h>

/* placement_home - the home worker of name, in [0, workers). */
int placement_home(const char *name, int workers);

/* placement_subscriber - the worker for a new subscriber of a stream or room homed at home,
 * given the downtracks its own subscribers have there (at_home) and each worker's downtracks
 * in all: home while at_home <= spread_threshold, else the worker with the fewest (home first
 * among equals, then the lowest index). */
int placement_subscriber(int home, size_t at_home, const size_t *downtracks, int workers,
                         size_t spread_threshold);

#endif
