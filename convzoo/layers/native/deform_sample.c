/* Deformable-convolution sampling for convzoo.layers.deform, CPU, float32: the bilinear samples of a band of output
 * rows, written as the channels-last image that the deformable conv convolves at stride (kh, kw).
 *
 * For image b, output row y, tap (i, j), output column x and deform group g, the point is
 *     h = (y*sh - ph + i*dh) + offset[b, ((g*kh + i)*kw + j)*2,     y, x]
 *     w = (x*sw - pw + j*dw) + offset[b, ((g*kh + i)*kw + j)*2 + 1, y, x]
 * and its sample (cg channels of group g) is mmcv's bilinear interpolation times the mask: 0 outside
 * (-1, H) x (-1, W), corners off the map read 0, corner weights from floor() of the coordinate. The arithmetic is
 * that of convzoo's PyTorch path, operation by operation (build with -ffp-contract=off), so both give the same
 * values. Written to out[b, r, i, x, j, g*cg + c] for r = y - row_start: pixel (r*kh + i, x*kw + j) of the image.
 *
 * Work is split over (image, row, tap row) units between num_threads POSIX threads (no OpenMP: PyTorch brings its
 * own runtime, and a second one would spin beside it).
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    const float *table, *offset, *mask;
    float *out;
    int64_t n, h, w, c, dg, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw, row_start, rows;
    int64_t unit_begin, unit_end;
} Job;

static void sample_unit(const Job *j, int64_t unit) {
    const int64_t i = unit % j->kh, r = (unit / j->kh) % j->rows, b = unit / (j->kh * j->rows);
    const int64_t y = j->row_start + r, cg = j->c / j->dg, plane = j->oh * j->ow, taps = j->kh * j->kw;
    const float *table = j->table + b * j->h * j->w * j->c;
    const float *offset = j->offset + b * j->dg * taps * 2 * plane + y * j->ow;
    const float *mask = j->mask ? j->mask + b * j->dg * taps * plane + y * j->ow : NULL;
    float *out = j->out + unit * j->ow * j->kw * j->c;
    const float base_h = (float)(y * j->sh - j->ph + i * j->dh);
    for (int64_t x = 0; x < j->ow; ++x) {
        for (int64_t jj = 0; jj < j->kw; ++jj) {
            const float base_w = (float)(x * j->sw - j->pw + jj * j->dw);
            for (int64_t g = 0; g < j->dg; ++g, out += cg) {
                const int64_t tap = (g * j->kh + i) * j->kw + jj;
                const float ch = base_h + offset[(2 * tap) * plane + x];
                const float cw = base_w + offset[(2 * tap + 1) * plane + x];
                if (!(ch > -1.0f && ch < (float)j->h && cw > -1.0f && cw < (float)j->w)) {
                    memset(out, 0, (size_t)cg * sizeof(float));
                    continue;
                }
                const float h0 = floorf(ch), w0 = floorf(cw);
                const float fh = ch - h0, fw = cw - w0;
                const int64_t y0 = (int64_t)h0, x0 = (int64_t)w0;
                const float wy[2] = {(1.0f - fh) * (float)(y0 >= 0), fh * (float)(y0 < j->h - 1)};
                const float wx[2] = {(1.0f - fw) * (float)(x0 >= 0), fw * (float)(x0 < j->w - 1)};
                const float scale = mask ? mask[tap * plane + x] : 1.0f;
                float wt[4];
                const float *row[4];
                for (int k = 0; k < 4; ++k) {
                    const int64_t a = k >> 1, bb = k & 1;
                    int64_t yy = y0 + a, xx = x0 + bb;
                    wt[k] = (wy[a] * wx[bb]) * scale;
                    yy = yy < 0 ? 0 : (yy > j->h - 1 ? j->h - 1 : yy);  /* off-map corners: weight 0, any row */
                    xx = xx < 0 ? 0 : (xx > j->w - 1 ? j->w - 1 : xx);
                    row[k] = table + (yy * j->w + xx) * j->c + g * cg;
                }
                const float *restrict r0 = row[0], *restrict r1 = row[1], *restrict r2 = row[2],
                            *restrict r3 = row[3];
                float *restrict o = out;
                for (int64_t cc = 0; cc < cg; ++cc)
                    o[cc] = wt[0] * r0[cc] + wt[1] * r1[cc] + wt[2] * r2[cc] + wt[3] * r3[cc];
            }
        }
    }
}

static void *run_job(void *arg) {
    const Job *j = (const Job *)arg;
    for (int64_t u = j->unit_begin; u < j->unit_end; ++u) sample_unit(j, u);
    return NULL;
}

int convzoo_deform_sample(const float *table, const float *offset, const float *mask, float *out, int64_t n,
                          int64_t h, int64_t w, int64_t c, int64_t dg, int64_t oh, int64_t ow, int64_t kh, int64_t kw,
                          int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t row_start,
                          int64_t rows, int num_threads) {
    enum { MAX_THREADS = 256 };
    const int64_t units = n * rows * kh;
    int64_t t = num_threads < 1 ? 1 : (num_threads > MAX_THREADS ? MAX_THREADS : num_threads);
    if (t > units) t = units > 0 ? units : 1;
    Job jobs[MAX_THREADS];
    pthread_t threads[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int64_t k = 0; k < t; ++k) {
        jobs[k] = (Job){table, offset, mask, out, n, h, w, c, dg, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw,
                        row_start, rows, units * k / t, units * (k + 1) / t};
    }
    for (int64_t k = 1; k < t; ++k)  /* a thread that cannot start leaves its share to the calling thread */
        started[k] = pthread_create(&threads[k], NULL, run_job, &jobs[k]) == 0;
    run_job(&jobs[0]);
    for (int64_t k = 1; k < t; ++k) {
        if (started[k]) pthread_join(threads[k], NULL);
        else run_job(&jobs[k]);
    }
    return 0;
}
