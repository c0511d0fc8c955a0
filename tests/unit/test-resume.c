#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "picker.h"
#include "ratio.h"
#include "resume.h"
#include "tap.h"

/* A record of a torrent of 10 pieces and 4 files; choices NULL (all wanted, normal). */
static void make_record(struct btd_resume *r)
{
    memset(r, 0, sizeof(*r));
    r->id = 3;
    r->dir = strdup("/srv/dl");
    r->added_at = 1700000000;
    r->uploaded = 5;
    r->downloaded = 7;
    r->piece_count = 10;
    r->have = calloc(1, 2);
    r->have[0] = 0xa0;
    r->file_count = 4;
    r->files = calloc(4, sizeof(*r->files));
    r->files[2] = (struct btd_resume_file){.size = 100, .mtime_ns = 42, .exists = true};
    r->seed_ratio_limit = -1; /* the global goals */
    r->seed_idle_limit = -1;
}

static void test_selection_survives_a_round_trip(void)
{
    struct btd_resume r, back;
    struct bt_error err = {{0}};
    char *text;
    uint32_t i;

    make_record(&r);
    r.choices = calloc(4, sizeof(*r.choices));
    for (i = 0; i < 4; i++)
        r.choices[i] = (struct btd_file_choice){.wanted = true, .prio = BTD_PRIO_NORMAL};
    r.choices[1].wanted = false;
    r.choices[1].prio = BTD_PRIO_HIGH; /* skipped, and high once wanted again */
    r.choices[2].prio = BTD_PRIO_HIGH;
    r.choices[3].prio = BTD_PRIO_LOW;
    text = btd_resume_encode(&r);
    CHECK(text != NULL);
    CHECK(btd_resume_decode(text, strlen(text), 10, 4, &back, &err) == 0);
    CHECK(back.choices != NULL);
    for (i = 0; back.choices && i < 4; i++) {
        CHECK(back.choices[i].wanted == r.choices[i].wanted);
        CHECK(back.choices[i].prio == r.choices[i].prio);
    }
    CHECK(back.have[0] == 0xa0 && back.files[2].size == 100 && back.id == 3);
    free(text);
    btd_resume_deinit(&back);
    btd_resume_deinit(&r);
}

static void test_record_without_selection_means_all_wanted(void)
{
    struct btd_resume r, back;
    struct bt_error err = {{0}};
    char *text;

    make_record(&r);
    text = btd_resume_encode(&r);
    CHECK(text != NULL);
    /* What btd wrote before the selection existed: no files_* keys at all. */
    CHECK(strstr(text, "files_skipped") == NULL && strstr(text, "files_high") == NULL);
    CHECK(btd_resume_decode(text, strlen(text), 10, 4, &back, &err) == 0);
    CHECK(back.choices == NULL);
    free(text);
    btd_resume_deinit(&back);
    btd_resume_deinit(&r);
}

static void test_old_record_is_read(void)
{
    /* A record as written by btd before the file selection. */
    static const char old[] =
        "{\"version\":1,\"id\":2,\"dir\":\"/d\",\"paused\":false,\"completed_sent\":true,"
        "\"added_at\":1,\"uploaded\":0,\"downloaded\":0,\"download_limit\":0,\"upload_limit\":0,"
        "\"pieces\":3,\"have\":\"4A==\",\"files\":[null,[10,20]]}";
    struct btd_resume back;
    struct bt_error err = {{0}};

    CHECK(btd_resume_decode(old, strlen(old), 3, 2, &back, &err) == 0);
    CHECK(back.choices == NULL && back.completed_sent && back.files[1].exists);
    /* Before the seeding goals: the global ones, and not finished. */
    CHECK(back.seed_ratio_limit == -1 && back.seed_idle_limit == -1);
    CHECK(back.finished == BT_SEED_GOAL_NONE);
    btd_resume_deinit(&back);
}

static void test_seeding_goals_survive_a_round_trip(void)
{
    struct btd_resume r, back;
    struct bt_error err = {{0}};
    char *text;

    make_record(&r);
    text = btd_resume_encode(&r);
    CHECK(text != NULL);
    CHECK(text && strstr(text, "seed_") == NULL && strstr(text, "finished") == NULL);
    free(text);
    r.paused = true;
    r.seed_ratio_limit = 150;
    r.seed_idle_limit = 0; /* unlimited for this torrent, not the global one */
    r.finished = BT_SEED_GOAL_RATIO;
    text = btd_resume_encode(&r);
    CHECK(text != NULL);
    CHECK(btd_resume_decode(text, strlen(text), 10, 4, &back, &err) == 0);
    CHECK(back.seed_ratio_limit == 150 && back.seed_idle_limit == 0);
    CHECK(back.finished == BT_SEED_GOAL_RATIO && back.paused);
    free(text);
    btd_resume_deinit(&back);
    btd_resume_deinit(&r);
}

static void test_move_marker_survives_a_round_trip(void)
{
    struct btd_resume r, back;
    struct bt_error err = {{0}};
    char *text;

    make_record(&r);
    text = btd_resume_encode(&r);
    CHECK(text && strstr(text, "moving_to") == NULL);
    CHECK(text && btd_resume_decode(text, strlen(text), 10, 4, &back, &err) == 0);
    CHECK(back.moving_to == NULL);
    free(text);
    btd_resume_deinit(&back);
    r.moving_to = strdup("/mnt/array");
    text = btd_resume_encode(&r);
    CHECK(text != NULL);
    CHECK(text && btd_resume_decode(text, strlen(text), 10, 4, &back, &err) == 0);
    CHECK(back.moving_to && strcmp(back.moving_to, "/mnt/array") == 0);
    CHECK(back.dir && strcmp(back.dir, "/srv/dl") == 0);
    free(text);
    btd_resume_deinit(&back);
    btd_resume_deinit(&r);
}

static void test_bad_seeding_goals_are_refused(void)
{
    static const char *const tails[] = {
        "\"finished\":\"paused\"}",
        "\"finished\":1}",
        "\"seed_ratio_hundredths\":-2}",
        "\"seed_ratio_hundredths\":1.5}",
        "\"seed_idle_limit\":\"3\"}",
        "\"moving_to\":\"relative/dir\"}",
        "\"moving_to\":7}",
    };
    static const char head[] =
        "{\"version\":1,\"id\":2,\"dir\":\"/d\",\"paused\":true,\"completed_sent\":true,"
        "\"added_at\":1,\"uploaded\":0,\"downloaded\":0,\"download_limit\":0,\"upload_limit\":0,"
        "\"pieces\":3,\"have\":\"4A==\",\"files\":[null,[10,20]],";
    char text[512];
    struct btd_resume back;
    struct bt_error err = {{0}};
    size_t i;

    for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        snprintf(text, sizeof(text), "%s%s", head, tails[i]);
        CHECK_MSG(btd_resume_decode(text, strlen(text), 3, 2, &back, &err) == -EBADMSG, "%s",
                  tails[i]);
    }
}

static void test_magnet_pending_selection_survives(void)
{
    struct btd_resume r, back;
    struct bt_error err = {{0}};
    char *text;

    make_record(&r);
    r.piece_count = 0; /* a magnet: no metadata yet */
    r.file_count = 0;
    r.pending_selection = strdup("{\"skip\":[1,2]}");
    text = btd_resume_encode(&r);
    CHECK(text != NULL);
    CHECK(btd_resume_decode(text, strlen(text), 0, 0, &back, &err) == 0);
    CHECK(back.pending_selection && strcmp(back.pending_selection, "{\"skip\":[1,2]}") == 0);
    free(text);
    btd_resume_deinit(&back);
    btd_resume_deinit(&r);
}

static void test_bad_file_index_is_refused(void)
{
    static const char bad[] =
        "{\"version\":1,\"id\":2,\"dir\":\"/d\",\"paused\":false,\"completed_sent\":true,"
        "\"added_at\":1,\"uploaded\":0,\"downloaded\":0,\"download_limit\":0,\"upload_limit\":0,"
        "\"pieces\":3,\"have\":\"4A==\",\"files\":[null,[10,20]],\"files_skipped\":[2]}";
    struct btd_resume back;
    struct bt_error err = {{0}};

    CHECK(btd_resume_decode(bad, strlen(bad), 3, 2, &back, &err) == -EBADMSG);
    CHECK(strstr(err.msg, "files_skipped") != NULL);
}

int main(void)
{
    TAP_RUN(test_selection_survives_a_round_trip);
    TAP_RUN(test_record_without_selection_means_all_wanted);
    TAP_RUN(test_old_record_is_read);
    TAP_RUN(test_seeding_goals_survive_a_round_trip);
    TAP_RUN(test_bad_seeding_goals_are_refused);
    TAP_RUN(test_magnet_pending_selection_survives);
    TAP_RUN(test_bad_file_index_is_refused);
    TAP_RUN(test_move_marker_survives_a_round_trip);
    return tap_done();
}
