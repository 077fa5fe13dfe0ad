/* error.c -- the thread-local last error, and message helpers. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static _Thread_local cg_errkind err_kind = CG_OK;
static _Thread_local char err_msg[1024];

cg_errkind cg_error_kind(void) { return err_kind; }

const char *cg_error_message(void) { return err_kind == CG_OK ? "" : err_msg; }

void cg_error_set(cg_errkind kind, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_msg, sizeof err_msg, fmt, ap);
    va_end(ap);
    err_kind = kind;
}

void cg_error_clear(void) {
    err_kind = CG_OK;
    err_msg[0] = '\0';
}

void *cg_oom(int64_t nbytes) {
    cg_error_set(CG_ERR_MEMORY,
                 "DefaultCPUAllocator: can't allocate memory: you tried to allocate %lld bytes.",
                 (long long)nbytes);
    return NULL;
}

const char *cg_shape_str(const int64_t *shape, int ndim, char *buf, size_t size) {
    size_t pos = 0;
    pos += (size_t)snprintf(buf + pos, size - pos, "[");
    for (int i = 0; i < ndim && pos < size; i++)
        pos += (size_t)snprintf(buf + pos, size - pos, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (pos < size) snprintf(buf + pos, size - pos, "]");
    return buf;
}

const char *cg_dtype_torch_name(cg_dtype dtype) {
    static const char *names[] = {"Float", "Double", "Long", "Bool"};
    return (unsigned)dtype < CG_NUM_DTYPES ? names[dtype] : "?";
}

const char *cg_dtype_c_name(cg_dtype dtype) {
    static const char *names[] = {"float", "double", "long int", "bool"};
    return (unsigned)dtype < CG_NUM_DTYPES ? names[dtype] : "?";
}

const char *cg_dtype_tensor_name(cg_dtype dtype) {
    static const char *names[] = {"torch.FloatTensor", "torch.DoubleTensor", "torch.LongTensor",
                                  "torch.BoolTensor"};
    return (unsigned)dtype < CG_NUM_DTYPES ? names[dtype] : "?";
}
