namespace LstmCluster.Core.Training;

/// <summary>
/// The element-by-element loops <see cref="MasterOptimizer"/> and <see cref="Gradients.WeightedAverage"/> ran before
/// they were vectorised with <c>TensorPrimitives</c>, kept as the reference the vectorised code is tested against
/// (<c>VectorisedOptimizerTests</c>) and measured against (<c>bench/LstmCluster.OptimizerBench</c>). Not used in training;
/// its <see cref="Adam"/> refits a quantile model's small offset head after training
/// (<see cref="Forecasting.QuantileCalibration.FitOffsetHead"/>).
/// </summary>
public static class ScalarOptimizerReference
{
    private const float Beta1 = 0.9f, Beta2 = 0.999f, Epsilon = 1e-8f;

    /// <summary>
    /// One step of <paramref name="options"/>' optimizer on flat vectors, as <see cref="MasterOptimizer.Step"/> does it:
    /// clip by global norm, weight decay, then Adam or SGD; <paramref name="steps"/> counts this step (1 for the first).
    /// <paramref name="second"/> is Adam's exp_avg_sq (null for SGD); <paramref name="scratch"/> as long as the weights.
    /// </summary>
    public static double Step(TrainingOptions options, double learningRate, long steps, float[] weights, float[] first, float[]? second,
        float[] scratch, float[] gradient)
    {
        double norm = Norm(gradient);
        float factor = options.ClipNorm > 0 && norm > options.ClipNorm ? (float)(options.ClipNorm / (norm + 1e-6)) : 1f;
        float decay = (float)options.WeightDecay;
        for (int i = 0; i < gradient.Length; i++)
        {
            float g = factor == 1f ? gradient[i] : gradient[i] * factor;
            scratch[i] = decay == 0f ? g : g + decay * weights[i];
        }
        if (second is not null) Adam(learningRate, steps, weights, first, second, scratch);
        else Sgd(learningRate, (float)options.Momentum, steps, weights, first, scratch);
        return norm;
    }

    public static void Adam(double learningRate, long steps, float[] weights, float[] first, float[] exp_avg_sq, float[] scratch)
    {
        double biasCorrection1 = 1 - Math.Pow(Beta1, steps);
        double biasCorrection2 = 1 - Math.Pow(Beta2, steps);
        float stepSize = (float)(learningRate / biasCorrection1);
        float correction2Sqrt = (float)Math.Sqrt(biasCorrection2);
        const float oneMinusBeta1 = 1 - Beta1, oneMinusBeta2 = 1 - Beta2;
        for (int i = 0; i < weights.Length; i++)
        {
            float g = scratch[i];
            float m = first[i] * Beta1 + oneMinusBeta1 * g;
            float v = exp_avg_sq[i] * Beta2 + oneMinusBeta2 * g * g;
            first[i] = m;
            exp_avg_sq[i] = v;
            float denom = MathF.Sqrt(v) / correction2Sqrt + Epsilon;
            weights[i] += -stepSize * (m / denom);
        }
    }

    public static void Sgd(double learningRate, float momentum, long steps, float[] weights, float[] first, float[] scratch)
    {
        float lr = (float)learningRate;
        for (int i = 0; i < weights.Length; i++)
        {
            float d = scratch[i];
            if (momentum != 0f)
            {
                d = steps == 1 ? d : first[i] * momentum + d;
                first[i] = d;
            }
            weights[i] += -lr * d;
        }
    }

    public static double Norm(float[] v)
    {
        double ss = 0;
        foreach (var x in v) ss += (double)x * x;
        return Math.Sqrt(ss);
    }

    /// <summary>sum(n_i g_i) / sum(n_i), accumulated in double.</summary>
    public static float[] WeightedAverage(IReadOnlyList<BatchGradient> gradients)
    {
        int length = gradients[0].Values.Length;
        var sum = new double[length];
        long total = 0;
        foreach (var g in gradients)
        {
            total += g.Samples;
            for (int i = 0; i < length; i++) sum[i] += (double)g.Samples * g.Values[i];
        }
        var result = new float[length];
        for (int i = 0; i < length; i++) result[i] = (float)(sum[i] / total);
        return result;
    }
}
