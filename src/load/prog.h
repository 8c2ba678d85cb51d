/* prog.h - junction-load, the program: what main.c, run.c (the media thread), sig.c (HTTP
 * and WebSocket clients on libwebsockets), flows.c (WHIP/WHEP, /rtc and Janus signaling)
 * and report.c share. Not a module API: only these files include it.
 *
 * Threads: the main thread runs the signaling (libwebsockets) and the phases of a run; one
 * media thread owns the UDP socket, every connection's ICE/DTLS/SRTP and all media. The
 * main thread hands a session to the media thread once its signaling is done
 * (run_start_session) and reads progress and counters through run_snapshot; both are
 * calls that run on the media thread (j_loop_call), so nothing is shared unlocked.
 */
#ifndef J_LOAD_PROG_H
#define J_LOAD_PROG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "load/load.h"
#include "sdp/sdp.h"

/* ---- configuration --------------------------------------------------------------------- */

typedef enum { MODE_WHIP = 0, MODE_RTC, MODE_JANUS } load_mode;

typedef struct load_config {
    load_mode mode;
    char url[256];          /* http://host:port (whip, rtc) or ws://host:port (janus) */
    char token[1024];       /* bearer token (WHIP/WHEP) or access token (rtc join); "" none */
    const char *video_path, *audio_path;
    int rooms, publishers, subscribers; /* publishers per room, subscribers per publisher */
    double warmup_s, duration_s, connect_timeout_s;
    int concurrency;        /* signaling exchanges in flight */
    int server_pid;         /* 0: no server CPU/RSS figures */
    uint32_t local_base;    /* host-order IPv4: client i uses local_base + 1 + i */
    char local_ip[64];      /* instead: every client on this address, a socket each */
    uint32_t janus_room_base;
    double min_delivery;    /* exit status 1 below this delivery ratio (0: never) */
    unsigned verify_every;  /* subscribers decrypt 1 SRTP packet in this many (1: all) */
    double pacing;          /* video leaves at this multiple of its mean bitrate (0: whole
                               frames at once) */
    bool server_stats;      /* read Junction's /api/stats at both ends of the window */
    char stats_token[1024]; /* bearer token for /api/stats (server-wide admin); "" none */
    const char *label;
    char run_id[7];         /* random: names streams and rooms apart from earlier runs' */
} load_config;

/* ---- media ------------------------------------------------------------------------------ */

typedef struct media_frame {
    size_t off;
    uint32_t len;
    uint32_t duration; /* in clock units */
} media_frame;

typedef struct media_stream {
    bool video;
    uint32_t clock_rate;
    uint32_t step;      /* nominal frame duration (clock units), the frame log's step */
    uint8_t *data;
    media_frame *frames;
    size_t count;
} media_stream;

/* media_load_ivf / media_load_ogg_opus - read a whole file into *m. 0, or -1 with err. */
int media_load_ivf(media_stream *m, const char *path, char *err, size_t err_cap);
int media_load_ogg_opus(media_stream *m, const char *path, char *err, size_t err_cap);
void media_free(media_stream *m);

/* ---- sessions --------------------------------------------------------------------------- */

#define PT_AUDIO 111
#define PT_VIDEO 96
#define MID_EXT_ID 4

typedef enum { ROLE_PUBLISHER = 0, ROLE_SUBSCRIBER = 1 } session_role;

/* What a publisher sends on one m= section. */
typedef struct tx_track {
    const media_stream *media;
    char mid[SDP_MID_LEN];
    uint8_t pt;
    uint8_t mid_ext_id;     /* 0: the server did not take the MID extension */
    uint32_t ssrc;
    uint16_t seq;
    uint32_t ts;            /* timestamp of the next frame */
    uint16_t picture_id;
    size_t frame;           /* next frame index */
    uint64_t start_us;      /* when frame 0 of the run went out */
    uint64_t clock_units;   /* clock units sent since start_us */
    uint64_t next_us;       /* when the next frame is due */
    /* The frame being sent (video is paced: a frame may take several ticks). */
    bool in_frame;
    vp8_packetizer vp;
    uint64_t frame_fingerprint;
    uint16_t frame_first_seq;
    uint64_t pace_bytes_per_s;       /* 0: not paced */
    uint64_t pace_next_us;           /* the next packet may leave then */
    uint64_t packets, bytes, frames;
    load_frame_log log;
} tx_track;

/* What a subscriber receives on one m= section. */
typedef struct rx_track {
    bool video;
    uint8_t pt;
    const tx_track *source; /* the publisher's track, for expected counts and latency */
    load_rx_stream rx;
} rx_track;

typedef enum {
    SESSION_IDLE = 0,   /* signaling not done */
    SESSION_CONNECTING, /* handed to the media thread */
    SESSION_CONNECTED,
    SESSION_FAILED,
} session_state;

typedef struct session {
    int id;
    session_role role;
    int room;
    int publisher;          /* the publisher (session id) it is, or it watches */
    j_addr local;
    int fd;                 /* its own socket, -1 on the shared one (media thread) */
    char ufrag[ICE_UFRAG_LEN + 1], pwd[ICE_PWD_LEN + 1];
    uint64_t tiebreaker;

    /* Set by the signaling (main thread) before run_start_session, read-only after. */
    j_addr remote;
    char remote_ufrag[SDP_ICE_LEN], remote_pwd[SDP_ICE_LEN];
    char remote_fingerprint[SDP_FP_ALG_LEN + SDP_FP_VALUE_LEN + 2];
    bool ice_controlling;
    dtls_role dtls_role;
    int n_tx, n_rx;
    tx_track *tx;           /* publisher: n_tx tracks (allocated) */
    rx_track rx[SDP_MAX_MEDIA];
    int8_t rx_by_pt[128];   /* payload type -> rx index, -1 none */

    /* Signaling state (main thread). */
    bool sig_done, sig_failed, sig_closed;
    char sig_error[160];
    char location[512];     /* WHIP/WHEP resource */
    char track_ids[2][64];  /* rtc: published track ids (audio, video) */
    uint64_t janus_handle, janus_feed;
    void *ws;               /* rtc: this participant's WebSocket */

    /* Media thread. */
    session_state state;
    load_peer peer;
    uint64_t peer_next_us;
    uint64_t rtcp_in;
} session;

/* ---- the media thread (run.c) ------------------------------------------------------------ */

typedef struct run run;

/* Counters, read on the media thread. */
typedef struct run_snapshot {
    uint64_t now_us;
    int connecting[2], connected[2], failed[2]; /* by session_role */
    const char *first_failure;                  /* static text, NULL if none failed */
    uint64_t tx_packets, tx_bytes, tx_frames;
    uint64_t rx_packets, rx_bytes, rx_expected_by_seq, rx_lost, rx_rtcp;
    uint64_t rx_should;   /* packets the subscribers' sources sent (delivery's denominator) */
    uint64_t srtp_errors, stun_errors, send_errors;
    uint64_t thread_cpu_us;  /* the media thread's own CPU time */
    uint64_t socket_drops;   /* datagrams the kernel dropped at our socket */
    int worst_session;       /* subscriber with the highest loss ratio, -1 none */
    double worst_loss;
    j_hist latency_video, latency_audio; /* per frame: until its last packet arrived */
    j_hist latency_packets;              /* per RTP packet, audio and video */
} run_snapshot;

/* run_new - open the clients' sockets and start the media thread (publishers come first in
 * sessions[], subscribers after them). shared_socket: one
 * socket for all, each session on its own loopback address (sessions[i].local, consecutive
 * from sessions[0]); else a socket per session bound to its local address (port 0). Either
 * way the sessions' local ports are set. Subscribers decrypt one SRTP packet in
 * verify_every once a stream is locked to its publisher (1: every packet). */
run *run_new(session *sessions, int n, bool shared_socket, dtls_ctx *dtls,
             unsigned verify_every, double pacing, char *err, size_t err_cap);
void run_free(run *r);
/* run_start_session - hand a signaled session to the media thread. */
void run_start_session(run *r, int id);
/* run_start_media / run_stop_media - publishers start at frame 0 (staggered over one
 * frame interval) / stop sending. */
void run_start_media(run *r);
void run_stop_media(run *r);
/* run_snapshot_take - the counters now; reset_latency empties the latency histograms
 * afterwards (the start of a measurement window). */
void run_snapshot_take(run *r, run_snapshot *out, bool reset_latency);

/* ---- signaling clients (sig.c) ----------------------------------------------------------- */

typedef struct sig sig;
typedef struct sig_ws sig_ws;

typedef struct sig_http_result {
    int status;             /* HTTP status, 0 when the exchange failed (see error) */
    const char *error;
    const char *location;   /* "" when absent */
    const char *body;       /* NUL-terminated */
    size_t body_len;
} sig_http_result;
typedef void (*sig_http_fn)(void *ctx, const sig_http_result *r);

typedef struct sig_ws_handlers {
    void (*on_open)(void *ctx, sig_ws *ws);
    void (*on_message)(void *ctx, sig_ws *ws, const char *text, size_t len);
    void (*on_close)(void *ctx, sig_ws *ws, const char *why); /* also a failed connect */
} sig_ws_handlers;

sig *sig_new(char *err, size_t err_cap);
void sig_free(sig *s);
/* sig_service - run libwebsockets for up to timeout_ms (callbacks happen in here). */
void sig_service(sig *s, int timeout_ms);
/* sig_http - start METHOD base_url+path; body may be NULL. fn runs exactly once. */
int sig_http(sig *s, const char *base_url, const char *method, const char *path,
             const char *bearer, const char *content_type, const char *body, sig_http_fn fn,
             void *ctx);
sig_ws *sig_ws_open(sig *s, const char *base_url, const char *path, const char *subprotocol,
                    const sig_ws_handlers *h, void *ctx);
/* sig_ws_send - queue one text message (copied). */
int sig_ws_send(sig_ws *ws, const char *text);
/* sig_ws_close - close (on_close follows); the handle is freed after on_close. */
void sig_ws_close(sig_ws *ws);

/* ---- signaling flows (flows.c) ------------------------------------------------------------ */

typedef struct flows flows;

typedef struct load_ctx {
    const load_config *cfg;
    session *sessions;
    int n_sessions, n_publishers;
    const media_stream *audio, *video;
    const char *fingerprint; /* our DTLS certificate's */
    sig *sig;
    run *run;
} load_ctx;

flows *flows_new(load_ctx *L, char *err, size_t err_cap);
void flows_free(flows *f);
/* flows_ready - the mode's shared setup (Janus: session and rooms) is done; false while it
 * runs; *failed when it cannot be. */
bool flows_ready(flows *f, bool *failed);
/* flows_start - begin signaling for session id; completion (or failure) shows in its
 * sig_done / sig_failed, and a signaled session is handed to the run. */
void flows_start(flows *f, int id);
/* flows_stop - end session id's signaling (DELETE, leave, detach); sig_closed when done. */
void flows_stop(flows *f, int id);

/* Shared by the flows: offers, answers, and turning a server's SDP into session state. */
int flow_write_offer(load_ctx *L, session *s, char *buf, size_t cap);
/* flow_take_answer - our offer was answered: remote transport and the m= sections. */
int flow_take_answer(load_ctx *L, session *s, const char *sdp, size_t len, char *err,
                     size_t err_cap);
/* flow_answer_offer - the server offered (Janus subscribers): our answer into buf. */
int flow_answer_offer(load_ctx *L, session *s, const char *sdp, size_t len, char *buf,
                      size_t cap, char *err, size_t err_cap);

/* ---- report (report.c) ------------------------------------------------------------------- */

typedef struct proc_sample {
    bool ok;
    uint64_t cpu_us;  /* utime + stime */
    uint64_t rss_kb;
} proc_sample;

proc_sample proc_sample_take(int pid);

typedef struct load_result {
    const load_config *cfg;
    int publishers, subscribers;
    int pub_connected, sub_connected, failed;
    double setup_s;
    run_snapshot start, end, final;
    proc_sample server_base, server_start, server_end;
    uint64_t client_cpu_start_us, client_cpu_end_us; /* whole process */
    json_t *server_stats_start, *server_stats_end;   /* /api/stats, NULL when not read */
    const char *first_failure;
    double frames_per_publisher_s; /* the media's own pace: audio and video frames a second */
} load_result;

/* report_print - the JSON summary on stdout, a table on stderr. Returns the delivery ratio. */
double report_print(const load_result *r);

#endif
