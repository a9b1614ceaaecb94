/* A stand-in for libcupti, for the injection library's tests on machines without a GPU: it keeps
 * the subscribed callback and lets the test drive it (fake_call) as CUPTI would around a CUDA
 * call, with a clock that advances 1000 ns per reading plus the call's simulated wait. */
#include <stdint.h>

typedef void (*callback_t)(void *, uint32_t, uint32_t, const void *);

/* CUpti_CallbackData's layout (cupti_callbacks.h). */
typedef struct {
    uint32_t site;
    const char *function_name;
    const void *params;
    void *return_value;
    const char *symbol_name;
    void *context;
    uint32_t context_uid;
    uint64_t *correlation_data;
    uint32_t correlation_id;
} callback_data_t;

static callback_t subscribed;
static uint64_t now;

int cuptiSubscribe(void **subscriber, callback_t callback, void *user) {
    (void)user;
    if (subscribed) return 39; /* CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED */
    subscribed = callback;
    *subscriber = (void *)1;
    return 0;
}

int cuptiEnableCallback(uint32_t enable, void *subscriber, uint32_t domain, uint32_t id) {
    (void)enable; (void)subscriber; (void)domain; (void)id;
    return 0;
}

/* Runtime ids 317 and 318 stand for the capture calls (their real ids vary by release). */
int cuptiGetCallbackName(uint32_t domain, uint32_t id, const char **name) {
    if (domain == 2 && id == 317) { *name = "cudaStreamBeginCapture_v10000"; return 0; }
    if (domain == 2 && id == 318) { *name = "cudaStreamEndCapture_v10000"; return 0; }
    return 1;
}

int cuptiGetTimestamp(uint64_t *t) {
    now += 1000;
    *t = now;
    return 0;
}

int cuptiGetResultString(uint32_t result, const char **text) {
    (void)result;
    *text = "CUPTI_ERROR_MULTIPLE_SUBSCRIBERS_NOT_SUPPORTED";
    return 0;
}

/* One CUDA call as CUPTI reports it: entry, `wait_ns` inside, exit returning `result`. */
int fake_call(uint32_t domain, uint32_t id, const char *name, const void *params, int result, uint64_t wait_ns) {
    uint64_t correlation = 0;
    int ret = 0;
    callback_data_t d = {0, name, params, &ret, 0, 0, 0, &correlation, 1};
    if (!subscribed) return -1;
    subscribed(0, domain, id, &d);
    now += wait_ns;
    ret = result;
    d.site = 1;
    subscribed(0, domain, id, &d);
    return 0;
}
