/*
  chrony-ptpkvm - ptpkvm-doctor

  SPDX-License-Identifier: GPL-2.0-only
  Copyright (C) 2026 The chrony-ptpkvm authors

  This program is free software; you can redistribute it and/or modify
  it under the terms of version 2 of the GNU General Public License as
  published by the Free Software Foundation.

  =======================================================================

  Read-only access to the inspected system under a root directory:
  "/" for the running guest, or a fixture tree (fake /sys, /proc, /dev,
  /etc, /run) in tests.  Every path a check reads goes through here, so
  permission problems are collected in one place and reported as "could
  not read" instead of being mistaken for absent files.
  */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "doctor.h"

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

/* At most len - 1 bytes of a file, NUL-terminated; the count or -1 */

static ssize_t
read_file(const char *path, char *buf, size_t len)
{
  size_t total = 0;
  ssize_t r = 0;
  int fd, err;

  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  while (total + 1 < len && (r = read(fd, buf + total, len - 1 - total)) != 0) {
    if (r < 0 && errno != EINTR)
      break;
    if (r > 0)
      total += (size_t)r;
  }
  err = errno;
  close(fd);
  if (r < 0) {
    errno = err;
    return -1;
  }
  buf[total] = '\0';
  return (ssize_t)total;
}

/* ================================================== */

ssize_t
DOC_ReadFile(const DOC_Context *ctx, const char *path, char *buf, size_t len)
{
  char full[4096];
  ssize_t n;
  int err;

  DOC_Path(ctx, path, full, sizeof (full));
  n = len > 0 ? read_file(full, buf, len) : 0;
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
DOC_ListDir(const DOC_Context *ctx, const char *path, DOC_ListDirCallback cb, void *arg)
{
  char full[4096];
  struct dirent *e;
  DIR *d;
  int err;

  DOC_Path(ctx, path, full, sizeof (full));
  d = opendir(full);
  if (!d) {
    err = errno;
    note_error(ctx, path, err);
    return -err;
  }
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && cb(e->d_name, arg))
      break;
  }
  closedir(d);
  return 0;
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
