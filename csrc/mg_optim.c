/* mg_optim.c -- see mg_optim.h.  Each loop body is one parameter's update. */
#include <math.h>
#include "mg_optim.h"

/* ATen's lerp: the form depends on the weight, for accuracy at both ends. */
static double lerp(double self, double end, double w)
{
    return (fabs(w) < 0.5) ? self + w * (end - self) : end - (end - self) * (1.0 - w);
}

/* The gradient as the update sees it: negated to maximize, plus L2 decay. */
static double grad_of(const mg_node *p, double weight_decay, int maximize)
{
    double g = maximize ? -p->gradient : p->gradient;
    if (weight_decay != 0.0) g = g + weight_decay * p->value;
    return g;
}

/* The momentum buffer starts as the first step's gradient, as torch's does. */
void mg_sgd_step(mg_node *const *p, size_t n, double *const *bufs, double step,
                 const mg_sgd_opts *o)
{
    double *buf = bufs[0];
    size_t i;
    for (i = 0; i < n; i++) {
        double g = grad_of(p[i], o->weight_decay, o->maximize);
        if (o->momentum != 0.0) {
            if (step <= 1.0) buf[i] = g;
            else buf[i] = buf[i] * o->momentum + (1.0 - o->dampening) * g;
            g = o->nesterov ? g + o->momentum * buf[i] : buf[i];
        }
        p[i]->value = p[i]->value + (-o->lr) * g;
    }
}

void mg_adam_step(mg_node *const *p, size_t n, double *const *bufs, double step,
                  const mg_adam_opts *o)
{
    double *exp_avg = bufs[0], *exp_avg_sq = bufs[1], *max_exp_avg_sq = bufs[2];
    double bias_correction1 = 1.0 - pow(o->beta1, step);
    double bias_correction2 = 1.0 - pow(o->beta2, step);
    double step_size = o->lr / bias_correction1;
    double bc2_sqrt = pow(bias_correction2, 0.5);
    size_t i;
    for (i = 0; i < n; i++) {
        double g, denom;
        if (o->decoupled && o->weight_decay != 0.0)
            p[i]->value = p[i]->value * (1.0 - o->lr * o->weight_decay);
        g = grad_of(p[i], o->decoupled ? 0.0 : o->weight_decay, o->maximize);
        exp_avg[i] = lerp(exp_avg[i], g, 1.0 - o->beta1);
        exp_avg_sq[i] = exp_avg_sq[i] * o->beta2 + (1.0 - o->beta2) * g * g;
        if (o->amsgrad) {
            if (exp_avg_sq[i] > max_exp_avg_sq[i] || isnan(exp_avg_sq[i]))
                max_exp_avg_sq[i] = exp_avg_sq[i];
            denom = sqrt(max_exp_avg_sq[i]) / bc2_sqrt + o->eps;
        } else {
            denom = sqrt(exp_avg_sq[i]) / bc2_sqrt + o->eps;
        }
        p[i]->value = p[i]->value + (-step_size) * exp_avg[i] / denom;
    }
}

void mg_rmsprop_step(mg_node *const *p, size_t n, double *const *bufs, double step,
                     const mg_rmsprop_opts *o)
{
    double *square_avg = bufs[0], *grad_avg = bufs[1], *buf = bufs[2];
    size_t i;
    (void)step;
    for (i = 0; i < n; i++) {
        double g = grad_of(p[i], o->weight_decay, o->maximize), avg;
        square_avg[i] = square_avg[i] * o->alpha + (1.0 - o->alpha) * g * g;
        if (o->centered) {
            grad_avg[i] = lerp(grad_avg[i], g, 1.0 - o->alpha);
            avg = sqrt(square_avg[i] + -1.0 * grad_avg[i] * grad_avg[i]);
        } else {
            avg = sqrt(square_avg[i]);
        }
        avg = avg + o->eps;
        if (o->momentum > 0.0) {
            buf[i] = buf[i] * o->momentum + 1.0 * g / avg;
            p[i]->value = p[i]->value + (-o->lr) * buf[i];
        } else {
            p[i]->value = p[i]->value + (-o->lr) * g / avg;
        }
    }
}

void mg_adagrad_step(mg_node *const *p, size_t n, double *const *bufs, double step,
                     const mg_adagrad_opts *o)
{
    double *state_sum = bufs[0];
    double clr = o->lr / (1.0 + (step - 1.0) * o->lr_decay);
    size_t i;
    for (i = 0; i < n; i++) {
        double g = grad_of(p[i], o->weight_decay, o->maximize);
        double std;
        state_sum[i] = state_sum[i] + 1.0 * g * g;
        std = sqrt(state_sum[i]) + o->eps;
        p[i]->value = p[i]->value + (-clr) * g / std;
    }
}
