/* video_gate.h - whether a subscriber's bandwidth estimate can carry video.
 *
 * Without layers to step down to, a subscriber whose link cannot carry a track's video
 * would only drown in its loss, and take its audio down with it. The gate pauses its
 * video when the estimate stays below a floor for a while, and resumes it when the
 * estimate recovers with a margin. While video is paused only audio flows, which is too
 * little traffic for the estimate to find out that the link got better, so the gate also
 * resumes video as a probe after a back-off (doubling from probe_after_us to
 * probe_after_max_us while probes fail); the caller restarts its estimator from just
 * above the floor then, and a probe that fails pauses video again. Right after any resume
 * the estimate gets a grace period to settle. Sans-I/O, time as now_us.
 */
#ifndef J_SFU_VIDEO_GATE_H
#define J_SFU_VIDEO_GATE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct sfu_video_gate_config {
    uint64_t min_bps;            /* the floor video needs */
    uint32_t resume_margin_pct;  /* resume at min_bps plus this much; default 25 */
    uint64_t pause_after_us;     /* below the floor this long pauses; default 1 s */
    uint64_t grace_us;           /* no pause this long after a resume; default 3 s */
    uint64_t probe_after_us;     /* first probe this long after a pause; default 4 s */
    uint64_t probe_after_max_us; /* the back-off's limit; default 32 s */
} sfu_video_gate_config;

typedef enum {
    SFU_VIDEO_GATE_NONE = 0,
    SFU_VIDEO_GATE_PAUSE,  /* pause the subscriber's video */
    SFU_VIDEO_GATE_RESUME, /* the estimate recovered: resume it */
    SFU_VIDEO_GATE_PROBE,  /* resume it to probe: restart the estimate at probe_start_bps */
} sfu_video_gate_event;

typedef struct sfu_video_gate {
    sfu_video_gate_config cfg;
    bool paused;
    bool below;              /* the estimate is below the floor ... */
    uint64_t below_since_us; /* ... since */
    uint64_t paused_us;      /* when video was paused */
    uint64_t grace_until_us;
    uint64_t probe_wait_us;  /* back-off before the next probe */
} sfu_video_gate;

/* sfu_video_gate_init - video flows; zero config fields take the defaults (min_bps has
 * none: 0 never pauses). */
void sfu_video_gate_init(sfu_video_gate *g, const sfu_video_gate_config *cfg);

/* sfu_video_gate_update - the subscriber's estimate at now_us; what to do about its video.
 * Call it every few tens of milliseconds. */
sfu_video_gate_event sfu_video_gate_update(sfu_video_gate *g, uint64_t estimate_bps,
                                           uint64_t now_us);

/* sfu_video_gate_probe_start_bps - where the estimator restarts for a probe: the resume
 * threshold, so the probe is judged by what the link then shows. */
uint64_t sfu_video_gate_probe_start_bps(const sfu_video_gate *g);

#endif
