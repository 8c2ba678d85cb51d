/* rtc.h - conference rooms wired up: the /rtc WebSocket, the room state machine, tokens,
 * the media engine and the rooms HTTP API.
 *
 * Everything here runs on the HTTP thread. The room module (src/room) decides; this glue
 * carries its decisions out: frames to WebSockets, token checks to src/auth, offers through
 * app/offer to the media plane (app/media.h; each participant has a publish and a subscribe
 * session, "<sid>.pub" and "<sid>.sub", placed by the room's name), and brings back what the
 * engines report (sessions that died).
 */
#ifndef J_APP_RTC_H
#define J_APP_RTC_H

#include <stdbool.h>
#include <stddef.h>

#include "app/whip.h"
#include "signal/http.h"

typedef struct rtc rtc;

/* rtc_new - the rooms of app a (its config, keys, media). NULL after logging on failure. */
rtc *rtc_new(app *a);
/* rtc_routes - the rooms HTTP API routes, appended at routes[n..max). Returns the new n. */
size_t rtc_routes(rtc *r, http_route *routes, size_t n, size_t max);
/* rtc_attach - serve /rtc on http and start the rooms' timer. J_OK or J_ELIMIT. */
int rtc_attach(rtc *r, http_server *http);
/* rtc_rooms_json - every room: {"rooms":[{name, participants (count), created_at}]}, new
 * reference, NULL when out of memory. */
json_t *rtc_rooms_json(const rtc *r);
/* rtc_free - after the HTTP server is gone. Ends every room session in the engine. */
void rtc_free(rtc *r);

#endif
