/* http_static.c - serve the web app embedded at build time (scripts/embed_web.py). */
#include "signal/http.h"

#include <string.h>

const http_static_file *http_static_find(const char *path)
{
    if (!path || path[0] != '/') return NULL;
    const char *name = path + 1;
    if (name[0] == '\0') name = "index.html";
    for (size_t i = 0; i < http_static_files_count; i++)
        if (strcmp(http_static_files[i].name, name) == 0) return &http_static_files[i];
    return NULL;
}

void http_static_handler(void *ctx, const http_request *req, http_reply *rep)
{
    const char *fixed = ctx; /* a page served for a whole path prefix, e.g. /room/{name} */
    const http_static_file *f = http_static_find(fixed ? fixed : req->path);
    if (!f) {
        http_reply_error(rep, 404, "not_found", "no such file");
        return;
    }
    http_reply_text(rep, 200, f->content_type, (const char *)f->data, f->len);
    /* The files change with each build; always revalidate. nosniff keeps browsers from
     * reinterpreting a file as another type. */
    http_reply_header(rep, "Cache-Control", "no-cache");
    http_reply_header(rep, "X-Content-Type-Options", "nosniff");
}
