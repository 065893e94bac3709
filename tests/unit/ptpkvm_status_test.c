/*
  chrony-ptpkvm -- unit tests of the PTPKVM driver's status file

  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  This program is distributed in the hope that it will be useful, but
  WITHOUT ANY WARRANTY; without even the implied warranty of
  MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the GNU
  General Public License for more details.

  SPDX-License-Identifier: GPL-2.0-only

  =======================================================================

  cmocka tests of refclock_ptpkvm_status.c: the file written by PKS_Write
  parses back to the same state (round trip), the ring keeps the last
  PKS_RING disruptions in order while the totals count all, the write is
  atomic (a write that fails half-way, here by RLIMIT_FSIZE, leaves the
  previous file complete and no temporary file; the mode is 0644 under
  any umask), PKS_SetState says when the state changed, malformed files
  are rejected with a message naming the line and the problem, and the
  path follows chronyd's command socket.
  */

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* Before cmocka.h, whose fail() macro is a function name here */
#include "refclock_ptpkvm_status.c"

#include <cmocka.h>


static char dir[4096], path[4200];

/* ================================================== */

static int
setup(void **state)
{
  const char *tmp = getenv("TMPDIR");

  /* The make target points TMPDIR into the build directory */
  snprintf(dir, sizeof (dir), "%s/pks-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir))
    return -1;
  snprintf(path, sizeof (path), "%s/ptpkvm-0.status", dir);
  return 0;
}

static int
teardown(void **state)
{
  char tmp[4300];

  snprintf(tmp, sizeof (tmp), "%s.tmp", path);
  unlink(tmp);
  unlink(path);
  return rmdir(dir);
}

/* ================================================== */

static char *
read_text(const char *p)
{
  static char buf[PKS_FILE_MAX + 1];
  FILE *f = fopen(p, "r");
  size_t n;

  assert_non_null(f);
  n = fread(buf, 1, sizeof (buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  return buf;
}

static void
read_back(PKS_Status *st)
{
  char err[256] = "";

  if (!PKS_Parse(read_text(path), st, err, sizeof (err)))
    fail_msg("parse failed: %s", err);
}

static struct timespec
ts(long long sec, long nsec)
{
  struct timespec t = { sec, nsec };

  return t;
}

static void
make_status(PKS_Status *st)
{
  struct timespec t = ts(1764669000, 123456789);

  PKS_Init(st, 4242, "auto");
  PKS_SetState(st, "/dev/ptp0", "precise", "precise", 0, &t);
  st->counters = (PKS_Counters){ 1234, 5, 980, 2, 3 };
  PKS_AddDisruption(st, &t, 360.000012345, PKS_CAUSE_PAUSE, 0.18, PKS_ACTION_STEP);
  t.tv_sec += 900;
  PKS_AddDisruption(st, &t, -0.5, PKS_CAUSE_HOST_STEP, 0.2, PKS_ACTION_FLUSH);
  PKS_AddDisruption(st, &t, 0.002, PKS_CAUSE_COLD_START, 0.0, PKS_ACTION_NONE);
}

/* ================================================== */

static void
test_round_trip(void **state)
{
  PKS_Status st, back;
  const PKS_Disruption *a, *b;
  struct timespec later = ts(1764669999, 1);
  int i;

  make_status(&st);
  assert_int_equal(PKS_Write(&st, path), 1);
  read_back(&back);

  assert_int_equal(back.pid, 4242);
  assert_true(back.running);
  assert_string_equal(back.device, "/dev/ptp0");
  assert_string_equal(back.mode, "precise");
  assert_string_equal(back.best_mode, "precise");
  assert_int_equal(back.mode_since.tv_sec, 1764669000);
  assert_int_equal(back.mode_since.tv_nsec, 123456789);
  assert_memory_equal(&back.counters, &st.counters, sizeof (st.counters));
  assert_memory_equal(back.disruptions, st.disruptions, sizeof (st.disruptions));
  assert_int_equal(back.disruptions[PKS_CAUSE_PAUSE], 1);
  assert_int_equal(back.disruptions[PKS_CAUSE_HOST_STEP], 1);
  assert_int_equal(back.disruptions[PKS_CAUSE_COLD_START], 1);
  assert_int_equal(back.n_ring, 3);
  for (i = 0; i < 3; i++) {
    a = &st.ring[i];
    b = &back.ring[i];
    assert_int_equal(a->when.tv_sec, b->when.tv_sec);
    assert_int_equal(a->when.tv_nsec, b->when.tv_nsec);
    assert_true(fabs(a->size - b->size) < 1e-9);
    assert_true(fabs(a->delay - b->delay) < 1e-6);
    assert_int_equal(a->cause, b->cause);
    assert_int_equal(a->action, b->action);
  }
  assert_non_null(strstr(read_text(path), " -0.500000000 host_step 0.200000 flush host clock "
                          "jumped back (host clock stepped?)\n"));
  assert_string_equal(PKS_CauseNames[back.ring[0].cause], "pause");
  assert_string_equal(PKS_ActionNames[back.ring[0].action], "step");

  /* A mode change moves mode_since and is news, the same state is not;
     stopped */
  assert_int_equal(PKS_SetState(&st, "/dev/ptp0", "basic", "precise", 1, &later), 1);
  assert_int_equal(PKS_SetState(&st, "/dev/ptp0", "basic", "precise", 1,
                                &(struct timespec){ 1, 0 }), 0);
  assert_int_equal(PKS_SetState(&st, "/dev/ptp0", "basic", "precise", 0, &later), 1);
  assert_int_equal(PKS_SetState(&st, "/dev/ptp1", "basic", "precise", 0, &later), 1);
  assert_int_equal(PKS_SetState(&st, "/dev/ptp1", "basic", "basic", 0, &later), 1);
  assert_int_equal(PKS_SetState(&st, "/dev/ptp0", "basic", "precise", 1, &later), 1);
  st.running = 0;
  assert_int_equal(PKS_Write(&st, path), 1);
  read_back(&back);
  assert_string_equal(back.mode, "basic");
  assert_int_equal(back.mode_since.tv_sec, later.tv_sec);
  assert_int_equal(back.mode_since.tv_nsec, 1);
  assert_true(back.failing);
  assert_false(back.running);
}

/* ================================================== */

static void
test_ring_overflow(void **state)
{
  PKS_Status st, back;
  struct timespec t;
  int i;

  PKS_Init(&st, 1, "/dev/ptp_kvm");
  for (i = 0; i < PKS_RING + 4; i++) {
    t = ts(1000 + i, 0);
    PKS_AddDisruption(&st, &t, i + 1.0, i % 2 ? PKS_CAUSE_PAUSE : PKS_CAUSE_OUTAGE, 0.1,
                      PKS_ACTION_STEP);
  }
  assert_int_equal(st.n_ring, PKS_RING);
  assert_int_equal(st.disruptions[PKS_CAUSE_PAUSE] + st.disruptions[PKS_CAUSE_OUTAGE],
                   PKS_RING + 4);

  assert_int_equal(PKS_Write(&st, path), 1);
  read_back(&back);
  assert_int_equal(back.n_ring, PKS_RING);
  assert_int_equal(back.disruptions[PKS_CAUSE_PAUSE], (PKS_RING + 4) / 2);
  /* Oldest first: the first four were dropped */
  for (i = 0; i < PKS_RING; i++) {
    assert_int_equal(back.ring[i].when.tv_sec, 1004 + i);
    assert_true(back.ring[i].size == i + 5.0);
  }
}

/* ================================================== */

static void
test_atomic_write(void **state)
{
  PKS_Status st, back;
  struct rlimit old, small;
  struct stat sb;
  char tmp[4300], first[PKS_FILE_MAX + 1];
  mode_t mask;
  int i, r;

  snprintf(tmp, sizeof (tmp), "%s.tmp", path);
  make_status(&st);

  /* 0644 whatever the umask */
  mask = umask(077);
  assert_int_equal(PKS_Write(&st, path), 1);
  umask(mask);
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(sb.st_mode & 07777, 0644);
  assert_int_equal(access(tmp, F_OK), -1);
  snprintf(first, sizeof (first), "%s", read_text(path));

  /* A write that fails half-way (file size limit, larger new content)
     leaves the previous file complete and no temporary file */
  for (i = 0; i < PKS_RING; i++)
    PKS_AddDisruption(&st, &st.mode_since, 1.0, PKS_CAUSE_PAUSE, 0.1, PKS_ACTION_STEP);
  signal(SIGXFSZ, SIG_IGN);
  assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
  small = old;
  small.rlim_cur = strlen(first) + 100;
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
  r = PKS_Write(&st, path);
  assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
  assert_int_equal(r, -EFBIG);
  assert_string_equal(read_text(path), first);
  assert_int_equal(access(tmp, F_OK), -1);
  read_back(&back);
  assert_int_equal(back.n_ring, 3);

  /* Retried once possible: the new state is written */
  assert_int_equal(PKS_Write(&st, path), 1);
  read_back(&back);
  assert_int_equal(back.n_ring, PKS_RING);

  /* A directory that does not exist: an error */
  st.counters.reads++;
  assert_int_equal(PKS_Write(&st, "/nonexistent-pks-dir/ptpkvm-0.status"), -ENOENT);
}

/* ================================================== */

static void
expect_rejected(const char *text, const char *message)
{
  PKS_Status st;
  char err[256] = "";

  if (PKS_Parse(text, &st, err, sizeof (err)))
    fail_msg("accepted: %s", text);
  if (!strstr(err, message))
    fail_msg("error '%s' does not contain '%s'", err, message);
}

#define HEAD "ptpkvm-status 1\npid 7\nstate running\n"

static void
test_bad_files(void **state)
{
  char many[PKS_FILE_MAX];
  PKS_Status st;
  char err[256];
  size_t n;
  int i;

  expect_rejected("", "line 1: empty file");
  expect_rejected("chrony 4.6\n", "line 1: not a PTPKVM status file");
  expect_rejected("ptpkvm-status 2\nend\n", "line 1: not format version 1");
  expect_rejected(HEAD "reads 12", "line 4: incomplete line");
  expect_rejected(HEAD "reads 12\n", "line 5: no 'end' line");
  expect_rejected(HEAD "reads -1\nend\n", "line 4: reads: not a count");
  expect_rejected(HEAD "steps 1x\nend\n", "line 4: steps: not a count");
  expect_rejected(HEAD "failing 2\nend\n", "line 4: failing: not 0 or 1");
  expect_rejected(HEAD "lonely\nend\n", "line 4: a key without a value");
  expect_rejected(HEAD "end\nreads 1\n", "text after the 'end' line");
  expect_rejected("ptpkvm-status 1\nstate running\nend\n", "no pid line");
  expect_rejected("ptpkvm-status 1\npid 3\nend\n", "no state line");
  expect_rejected("ptpkvm-status 1\npid 0\nstate running\nend\n", "line 2: pid: not a process id");
  expect_rejected(HEAD "state sleeping\nend\n", "line 4: state: not running or stopped");
  expect_rejected(HEAD "mode_since 12.5\nend\n", "line 4: mode_since: bad time");
  expect_rejected(HEAD "disruption 12.000000000 +1.0 pause 0.1 jump text\nend\n",
                  "line 4: disruption: action is not none, flush or step");
  expect_rejected(HEAD "disruption 12.000000000 nan pause 0.1 step text\nend\n",
                  "line 4: disruption: want <when> <size>");
  expect_rejected(HEAD "disruption 12.0 +1.0 pause 0.1 step text\nend\n",
                  "line 4: disruption: bad time");
  expect_rejected(HEAD "disruption 12.000000000 +1.0 pause -1 step\nend\n",
                  "line 4: disruption: want <when> <size>");
  expect_rejected(HEAD "disruptions pause\nend\n", "line 4: disruptions: want <cause> <count>");

  n = snprintf(many, sizeof (many), HEAD);
  for (i = 0; i <= PKS_RING; i++)
    n += snprintf(many + n, sizeof (many) - n, "disruption 1.000000000 +1 pause 0 step\n");
  snprintf(many + n, sizeof (many) - n, "end\n");
  expect_rejected(many, "line 20: disruption: more than 16");

  /* Later fields and causes unknown to this reader are accepted */
  assert_true(PKS_Parse(HEAD "new_field 1 2 3\ndisruptions meteor 2\n"
                        "disruption 5.000000001 -0.25 meteor 0.5 flush\nend\n",
                        &st, err, sizeof (err)));
  assert_int_equal(st.disruptions[PKS_CAUSE_OTHER], 2);
  assert_int_equal(st.ring[0].cause, PKS_CAUSE_OTHER);
  assert_int_equal(st.ring[0].when.tv_nsec, 1);
  assert_true(st.ring[0].size == -0.25);
}

/* ================================================== */

static void
test_path_and_names(void **state)
{
  char buf[64];

  assert_true(PKS_MakePath(buf, sizeof (buf), "/run/chrony/chronyd.sock", 0));
  assert_string_equal(buf, "/run/chrony/ptpkvm-0.status");
  assert_true(PKS_MakePath(buf, sizeof (buf), "/x/sock/chronyd.sock", 12));
  assert_string_equal(buf, "/x/sock/ptpkvm-12.status");
  assert_false(PKS_MakePath(buf, sizeof (buf), NULL, 0));
  assert_false(PKS_MakePath(buf, sizeof (buf), "chronyd.sock", 0));
  assert_false(PKS_MakePath(buf, 20, "/run/chrony/chronyd.sock", 0));

  assert_string_equal(PKS_CauseNames[PKS_CAUSE_COLD_START], "cold_start");
  assert_string_equal(PKS_CauseNames[PKS_CAUSE_CHRONYD_STEP], "chronyd_step");
  assert_string_equal(PKS_CauseTexts[PKS_CAUSE_PAUSE], "host clock jumped ahead (VM paused?)");
  assert_string_equal(PKS_ActionNames[PKS_ACTION_STEP], "step");
}

/* ================================================== */

int
main(void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
    cmocka_unit_test_setup_teardown(test_ring_overflow, setup, teardown),
    cmocka_unit_test_setup_teardown(test_atomic_write, setup, teardown),
    cmocka_unit_test(test_bad_files),
    cmocka_unit_test(test_path_and_names),
  };

  return cmocka_run_group_tests_name("ptpkvm_status", tests, NULL, NULL);
}
