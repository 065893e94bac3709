/*
  chrony-ptpkvm guest simulator

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

  Queries at a checkpoint of virtual time: a scenario line `at T query
  NAME` makes the next wait of the process (at or after T) start the
  shell command in SIM_QUERY (e.g. `chronyc -h SOCK -n sources`, without
  the interposer) with its output in SIM_QUERY_OUT/query-NAME.txt, and
  hold virtual time until the command has exited: the wait only checks
  the real descriptors (in 10 ms slices of real time) and hands the ready
  ones back to the process, so chronyd answers the request at exactly the
  held moment, and clock reads cost no virtual time meanwhile.  The answer
  is therefore a deterministic function of the seed, like the truth log,
  which records `query_start` and `query` (with the exit status) events.
  */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

extern char **environ;

/* Real seconds a query may take before it is killed */
#define QUERY_REAL_LIMIT 30.0

static pid_t child;
static struct timespec started;

/* ================================================== */

static double
real_elapsed(void)
{
  struct timespec now;

  SIM_real_clock_gettime(CLOCK_MONOTONIC, &now);
  return (now.tv_sec - started.tv_sec) + (now.tv_nsec - started.tv_nsec) * 1e-9;
}

/* The environment without the interposer and the simulator's variables */
static char **
clean_environment(void)
{
  static char *env[256];
  int i, n = 0;

  for (i = 0; environ[i] && n < 255; i++) {
    if (!strncmp(environ[i], "LD_PRELOAD=", 11) || !strncmp(environ[i], "SIM_", 4))
      continue;
    env[n++] = environ[i];
  }
  env[n] = NULL;
  return env;
}

static int
start(const char *name)
{
  const char *cmd = getenv("SIM_QUERY"), *dir = getenv("SIM_QUERY_OUT");
  char path[512], *argv[] = {"sh", "-c", NULL, NULL};
  posix_spawn_file_actions_t fa;
  int r;

  if (!cmd || !*cmd) {
    SIM_LogEvent("query name=%s status=no-command", name);
    return 0;
  }
  snprintf(path, sizeof (path), "%s/query-%s.txt", dir && *dir ? dir : ".", name);
  argv[2] = (char *)cmd;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  r = posix_spawn(&child, "/bin/sh", &fa, NULL, argv, clean_environment());
  posix_spawn_file_actions_destroy(&fa);
  if (r != 0) {
    SIM_LogEvent("query name=%s status=spawn-error-%d", name, r);
    child = 0;
    return 0;
  }
  SIM_real_clock_gettime(CLOCK_MONOTONIC, &started);
  SIM_LogEvent("query_start name=%s", name);
  return 1;
}

static void
finish(const char *name, const char *how, int code)
{
  SIM_LogEvent("query name=%s status=%s%d", name, how, code);
  child = 0;
  SIM_QueryFinished();
}

/* ================================================== */

int
SIM_QueryServe(SIM_Probe probe, void *ctx)
{
  struct timespec slice = {0, 10000000};
  const char *name = SIM_QueryDue();
  int r, st;
  pid_t p;

  if (!name)
    return 0;
  if (!child && !start(name)) {
    SIM_QueryFinished();
    return 0;
  }
  for (;;) {
    if ((r = probe(ctx, &slice)) != 0)
      return r;
    p = waitpid(child, &st, WNOHANG);
    if (p == child) {
      if (WIFEXITED(st))
        finish(name, "", WEXITSTATUS(st));
      else
        finish(name, "signal-", WTERMSIG(st));
      return 0;
    }
    if (p < 0 && errno != EINTR) {
      finish(name, "lost-", errno);
      return 0;
    }
    if (real_elapsed() > QUERY_REAL_LIMIT) {
      kill(child, SIGKILL);
      waitpid(child, &st, 0);
      finish(name, "timeout-", (int)QUERY_REAL_LIMIT);
      return 0;
    }
  }
}
