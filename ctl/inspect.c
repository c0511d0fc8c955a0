/*
 * inspect: `btctl jobs ID` and `peers ID`: a look inside one torrent: its
 * work queues and its connections (its files: files.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "format.h"
#include "remote.h"

/* jobs */

static const char jobs_help[] =
    "      --json   print btd's reply: {unclaimed, pending: [{piece, blocks,\n"
    "               received, peer, verifying}], unemployed: [address], have,\n"
    "               pieces, skipped}\n"
    "  -h, --help   show this help\n"
    "\n"
    "How the download is shared out. Unclaimed pieces wait for a peer; a\n"
    "pending piece is being fetched (BLOCKS received of its total) or\n"
    "verified; an unemployed peer is connected and unchoking us but has no\n"
    "work. Skipped pieces touch no wanted file (`btctl files`) and are not\n"
    "fetched. unclaimed + pending + have + skipped = pieces.\n";

static void job_row(const json_t *job, const char **cells, char (*scratch)[BTCTL_REMOTE_CELL_LEN])
{
    snprintf(scratch[0], BTCTL_REMOTE_CELL_LEN, "%lld",
             (long long)btctl_remote_int(job, "piece", 0));
    cells[0] = scratch[0];
    if (json_is_true(json_object_get(job, "verifying"))) {
        cells[1] = "verifying";
    } else {
        snprintf(scratch[1], BTCTL_REMOTE_CELL_LEN, "%lld/%lld",
                 (long long)btctl_remote_int(job, "received", 0),
                 (long long)btctl_remote_int(job, "blocks", 0));
        cells[1] = scratch[1];
    }
    cells[2] = btctl_remote_str(job, "peer", "-");
}

static int show_jobs(const json_t *jobs)
{
    static const char *const header[] = {"PIECE", "BLOCKS", "PEER"};
    const json_t *pending = json_object_get(jobs, "pending");
    const json_t *unemployed = json_object_get(jobs, "unemployed");
    const json_t *addr;
    size_t npending = json_array_size(pending);
    size_t i;
    int r = BTCTL_EXIT_OK;

    if (json_object_get(jobs, "pieces"))
        printf("have: %lld of %lld pieces\n", (long long)btctl_remote_int(jobs, "have", 0),
               (long long)btctl_remote_int(jobs, "pieces", 0));
    printf("unclaimed: %lld\n", (long long)btctl_remote_int(jobs, "unclaimed", 0));
    if (btctl_remote_int(jobs, "skipped", 0) > 0)
        printf("skipped: %lld\n", (long long)btctl_remote_int(jobs, "skipped", 0));
    printf("pending: %zu\n", npending);
    fflush(stdout);
    if (npending > 0)
        r = btctl_remote_print_rows(pending, header, 3, 1u << 0 | 1u << 1, job_row, "");
    printf("unemployed: %zu\n", json_array_size(unemployed));
    json_array_foreach(unemployed, i, addr)
    {
        char *s = btctl_sanitize(json_is_string(addr) ? json_string_value(addr) : "?");

        printf("  %s\n", s ? s : "?");
        free(s);
    }
    return r;
}

static int run_jobs(struct btctl *ctl, int argc, char **argv)
{
    const char *id = NULL;
    int r;

    r = btctl_remote_parse_id(ctl, &btctl_jobs_command, argc, argv, false, &id);
    if (r >= 0)
        return r;
    return btctl_remote_show(ctl, "torrent.jobs", btctl_remote_id_params(id), show_jobs);
}

const struct btctl_command btctl_jobs_command = {
    .name = "jobs",
    .run = run_jobs,
    .usage = "ID [--json]",
    .summary = "show how a torrent's pieces are shared out among its peers",
    .help = jobs_help,
};

/* peers */

static const char peers_help[] =
    "      --json   print btd's reply: [{address, state, progress, download_rate,\n"
    "               upload_rate, downloaded_bytes, uploaded_bytes, choking_us,\n"
    "               interested, choked, peer_interested, requests, mse,\n"
    "               encrypted, their_requests}]\n"
    "  -h, --help   show this help\n"
    "\n"
    "HAVE is the share of the torrent the peer has; REQS our requests in\n"
    "flight to it; THEIRS its requests waiting for us to send (being read\n"
    "from disk, held back until its socket takes the 1 MiB already on the\n"
    "way to it, or held back by an upload limit). FLAGS: D downloading\n"
    "from it, d we want to but it chokes us, U uploading to it, u it wants\n"
    "to but we choke it, K it unchokes us but we are not interested, ? we\n"
    "unchoke it but it is not interested, E the connection is encrypted\n"
    "(MSE, RC4 both ways), e MSE handshake but plaintext payload (both\n"
    "sides allowed it).\n";

static bool flag(const json_t *peer, const char *key)
{
    return json_is_true(json_object_get(peer, key));
}

static void peer_flags(const json_t *p, char *out)
{
    size_t n = 0;

    if (flag(p, "interested"))
        out[n++] = flag(p, "choking_us") ? 'd' : 'D';
    else if (!flag(p, "choking_us"))
        out[n++] = 'K';
    if (flag(p, "peer_interested"))
        out[n++] = flag(p, "choked") ? 'u' : 'U';
    else if (!flag(p, "choked"))
        out[n++] = '?';
    if (flag(p, "encrypted"))
        out[n++] = 'E';
    else if (flag(p, "mse"))
        out[n++] = 'e';
    out[n] = '\0';
}

static void peer_row(const json_t *p, const char **cells, char (*scratch)[BTCTL_REMOTE_CELL_LEN])
{
    cells[0] = btctl_remote_str(p, "address", "?");
    cells[1] = btctl_remote_str(p, "state", "?");
    btctl_format_percent(scratch[2], btctl_remote_real(p, "progress", 0.0));
    cells[2] = scratch[2];
    btctl_format_rate(scratch[3], (uint64_t)btctl_remote_int(p, "download_rate", 0));
    cells[3] = scratch[3];
    btctl_format_rate(scratch[4], (uint64_t)btctl_remote_int(p, "upload_rate", 0));
    cells[4] = scratch[4];
    snprintf(scratch[5], BTCTL_REMOTE_CELL_LEN, "%lld",
             (long long)btctl_remote_int(p, "requests", 0));
    cells[5] = scratch[5];
    snprintf(scratch[6], BTCTL_REMOTE_CELL_LEN, "%lld",
             (long long)btctl_remote_int(p, "their_requests", 0));
    cells[6] = scratch[6];
    peer_flags(p, scratch[7]);
    cells[7] = scratch[7];
}

static int show_peers(const json_t *peers)
{
    static const char *const header[] = {"ADDRESS", "STATE", "HAVE",   "DOWN",
                                         "UP",      "REQS",  "THEIRS", "FLAGS"};

    return btctl_remote_print_rows(
        peers, header, 8, 1u << 2 | 1u << 3 | 1u << 4 | 1u << 5 | 1u << 6, peer_row, "no peers");
}

static int run_peers(struct btctl *ctl, int argc, char **argv)
{
    const char *id = NULL;
    int r;

    r = btctl_remote_parse_id(ctl, &btctl_peers_command, argc, argv, false, &id);
    if (r >= 0)
        return r;
    return btctl_remote_show(ctl, "torrent.peers", btctl_remote_id_params(id), show_peers);
}

const struct btctl_command btctl_peers_command = {
    .name = "peers",
    .run = run_peers,
    .usage = "ID [--json]",
    .summary = "list a torrent's peers and what flows to and from each",
    .help = peers_help,
};
