/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Read-only access to the inspected system under a root directory (files
  and directories are read by phc_reader's operations, the fake ones in
  tests):
  "/" for the running guest, or a fixture tree (fake /sys, /proc, /dev,
  /etc, /run) in tests.  Every path a check reads goes through here, so
  permission problems are collected in one place and reported as "could
  not read" instead of being mistaken for absent files.
  */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "doctor.h"
#include "phcr_ops.h"

/* ================================================== */

void
DOC_Path(const DOC_Context *ctx, const char *path, char *buf, size_t len)
{
  snprintf(buf, len, "%s%s", ctx->root, path);
}

/* ================================================== */

static void
note_error(const DOC_Context *ctx, const char *path, int err)
{
  if ((err == EACCES || err == EPERM) && ctx->report)
    DOC_NoteUnreadable(ctx->report, path, err);
}

/* ================================================== */

ssize_t
DOC_ReadFile(const DOC_Context *ctx, const char *path, char *buf, size_t len)
{
  const PHCR_Ops *ops = ctx->ops ? ctx->ops : &PHCR_DefaultOps;
  char full[4096];
  ssize_t n;
  int err;

  DOC_Path(ctx, path, full, sizeof (full));
  n = ops->read_file(ops->ctx, full, buf, len);
  if (n >= 0)
    return n;
  err = errno;
  if (len > 0)
    buf[0] = '\0';
  note_error(ctx, path, err);
  return -err;
}

/* ================================================== */

int
DOC_ReadLine(const DOC_Context *ctx, const char *path, char *buf, size_t len)
{
  ssize_t n = DOC_ReadFile(ctx, path, buf, len);
  char *nl;

  if (n < 0)
    return (int)n;
  nl = strchr(buf, '\n');
  if (nl)
    *nl = '\0';
  DOC_Trim(buf);
  return 0;
}

/* ================================================== */

int
DOC_Exists(const DOC_Context *ctx, const char *path)
{
  char full[4096];
  struct stat st;

  DOC_Path(ctx, path, full, sizeof (full));
  return lstat(full, &st) == 0;
}

/* ================================================== */

int
DOC_ResolveLink(const DOC_Context *ctx, const char *path, char *buf, size_t len)
{
  char full[4096], target[1024], dir[1024], *slash;
  ssize_t n;

  DOC_Path(ctx, path, full, sizeof (full));
  n = readlink(full, target, sizeof (target) - 1);
  if (n < 0)
    return -errno;
  target[n] = '\0';
  if (target[0] == '/') {
    snprintf(buf, len, "%s", target);
  } else {
    snprintf(dir, sizeof (dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash)
      *slash = '\0';
    snprintf(buf, len, "%s/%s", dir, target);
  }
  return 0;
}

/* ================================================== */

int
DOC_ListDir(const DOC_Context *ctx, const char *path, PHCR_ListDirCallback cb, void *arg)
{
  const PHCR_Ops *ops = ctx->ops ? ctx->ops : &PHCR_DefaultOps;
  char full[4096];
  int err;

  DOC_Path(ctx, path, full, sizeof (full));
  if (ops->list_dir(ops->ctx, full, cb, arg) == 0)
    return 0;
  err = errno;
  note_error(ctx, path, err);
  return -err;
}

/* ================================================== */

int
DOC_HasWord(const char *text, const char *word)
{
  size_t wl = strlen(word);
  const char *p = text;

  while ((p = strstr(p, word)) != NULL) {
    if ((p == text || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n') &&
        (p[wl] == '\0' || p[wl] == ' ' || p[wl] == '\t' || p[wl] == '\n'))
      return 1;
    p += wl;
  }
  return 0;
}

/* ================================================== */

char *
DOC_Trim(char *s)
{
  size_t n = strlen(s);
  char *p = s;

  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
                   s[n - 1] == '\r'))
    s[--n] = '\0';
  while (*p == ' ' || *p == '\t')
    p++;
  if (p != s)
    memmove(s, p, strlen(p) + 1);
  return s;
}
