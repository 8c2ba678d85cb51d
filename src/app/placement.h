/* placement.h - which media worker a session goes to.
 *
 * A WHIP stream and a room each have a home worker, from a hash of the name: stable across
 * restarts and the same on every thread. Publishers always go home, so a stream's or a
 * room's tracks all start there. Subscribers go home too, until the home worker carries
 * more than spread_threshold downtracks; then to the least-loaded worker, which mirrors the
 * tracks it needs from home (engine.h). Pure functions.
 */
#ifndef J_APP_PLACEMENT_H
#define J_APP_PLACEMENT_H

#include <stddef.h>

/* placement_home - the home worker of name, in [0, workers). */
int placement_home(const char *name, int workers);

/* placement_subscriber - the worker for a new subscriber of something homed at home, given
 * each worker's downtracks: home while downtracks[home] <= spread_threshold, else the one
 * with the fewest (home first among equals, then the lowest index). */
int placement_subscriber(int home, const size_t *downtracks, int workers,
                         size_t spread_threshold);

#endif
