/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Running a helper program (chronyd, chronyc, journalctl, apt-cache) with a
  time limit and capturing its output and errors.  No shell is involved:
  the argument vector is passed to execvp() as is, stdin is /dev/null, and
  the child is killed when the limit expires.
  */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "doctor.h"

/* ================================================== */

static double
now_mono(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ================================================== */

static void
exec_child(int out_fd, char *const argv[])
{
  int null_fd = open("/dev/null", O_RDWR);

  if (null_fd >= 0)
    dup2(null_fd, 0);
  dup2(out_fd, 1);
  dup2(out_fd, 2);
  execvp(argv[0], argv);
  _exit(127);
}

/* ================================================== */

int
DOC_RunCommand(char *const argv[], char *out, size_t len, double timeout, int *status)
{
  int pipefd[2], wstatus = 0, timed_out = 0;
  double deadline;
  size_t used = 0;
  struct pollfd pfd;
  ssize_t n;
  pid_t pid;

  out[0] = '\0';
  if (pipe2(pipefd, O_CLOEXEC) < 0)
    return -errno;
  pid = fork();
  if (pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return -errno;
  }
  if (pid == 0)
    exec_child(pipefd[1], argv);
  close(pipefd[1]);

  deadline = now_mono() + timeout;
  pfd.fd = pipefd[0];
  pfd.events = POLLIN;
  for (;;) {
    int left = (int)((deadline - now_mono()) * 1000.0);

    if (left <= 0) {
      timed_out = 1;
      break;
    }
    if (poll(&pfd, 1, left) < 0) {
      if (errno == EINTR)
        continue;
      break;
    }
    if (!pfd.revents)
      continue;
    if (used + 1 < len)
      n = read(pipefd[0], out + used, len - 1 - used);
    else {
      char discard[512];
      n = read(pipefd[0], discard, sizeof (discard));
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    if (used + 1 < len)
      used += n;
  }
  out[used] = '\0';
  close(pipefd[0]);
  if (timed_out)
    kill(pid, SIGKILL);
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
    ;
  if (timed_out)
    return -ETIMEDOUT;
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 127)
    return -ENOENT;
  *status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  return (int)used;
}
